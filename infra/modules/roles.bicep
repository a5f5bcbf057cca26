// Role assignments for the app's user-assigned identity, each scoped to the one resource it is for. Nothing is
// granted at resource-group or subscription scope.

@description('Principal (object) id of the app\'s user-assigned identity.')
param principalId string

@description('Storage account the app and the Functions host use.')
param storageAccountName string

@description('Key Vault holding the app\'s secrets.')
param keyVaultName string

@description('Application Insights component the host sends telemetry to with Entra ID auth.')
param appInsightsName string

@description('Optional: a person or pipeline (object id) allowed to set the vault\'s secrets (Key Vault Secrets Officer). Empty: nobody.')
param vaultOperatorPrincipalId string

var roleIds = {
  // The Functions host keeps its state in blobs (host keys in azure-webjobs-secrets, listener and singleton leases
  // in azure-webjobs-hosts) and the Flex plan reads the package from the deployment container. The Functions docs
  // name Storage Blob Data Owner for an identity-based AzureWebJobsStorage; beyond Data Contributor it adds only
  // POSIX ACL management, which this flat-namespace account does not have.
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  // Queue trigger (peek, update, delete, move to -poison) and the app's enqueue of verified notifications.
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  // Orders, the order index and Pay Score orders.
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  // Read secret values for the app settings' Key Vault references; cannot list or change them.
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6'
  keyVaultSecretsOfficer: 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'
  // Send telemetry to an Application Insights component whose local (key) auth is disabled.
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

var storageRoles = [
  roleIds.storageBlobDataOwner
  roleIds.storageQueueDataContributor
  roleIds.storageTableDataContributor
]

resource storageAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for roleId in storageRoles: {
    name: guid(storage.id, principalId, roleId)
    scope: storage
    properties: {
      principalId: principalId
      principalType: 'ServicePrincipal'
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
    }
  }
]

resource vaultSecretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, principalId, roleIds.keyVaultSecretsUser)
  scope: vault
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.keyVaultSecretsUser)
  }
}

resource vaultSecretsOfficer 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(vaultOperatorPrincipalId)) {
  name: guid(vault.id, vaultOperatorPrincipalId, roleIds.keyVaultSecretsOfficer)
  scope: vault
  properties: {
    principalId: vaultOperatorPrincipalId
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.keyVaultSecretsOfficer)
  }
}

resource telemetryPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, principalId, roleIds.monitoringMetricsPublisher)
  scope: appInsights
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.monitoringMetricsPublisher)
  }
}
