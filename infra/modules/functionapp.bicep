// The hosting plan and the function app that runs PaymentFunctions as a custom handler (host.json
// customHandler.defaultExecutablePath = the self-contained linux-x64 executable at the package root).

@description('Azure region.')
param location string

@description('Tags for the plan (the app also gets azd-service-name).')
param tags object

@description('FlexConsumption (FC1, the default) or ElasticPremium (EP1-EP3).')
@allowed([
  'FlexConsumption'
  'ElasticPremium'
])
param planKind string

@description('Plan name.')
param planName string

@description('Function app name (also its host name: <name>.azurewebsites.net).')
param name string

@description('azd service this app implements (tag azd-service-name).')
param azdServiceName string

@description('Resource id of the user-assigned identity the app runs as.')
param identityId string

@description('Client id of that identity (for AzureWebJobsStorage__clientId and Entra auth to Application Insights).')
param identityClientId string

@description('Storage account name (AzureWebJobsStorage__accountName).')
param storageAccountName string

@description('Blob, queue and table endpoints of the storage account (with trailing slash).')
param blobEndpoint string
param queueEndpoint string
param tableEndpoint string

@description('URL of the blob container that holds the deployment package.')
param deploymentContainerUrl string

@description('Application Insights connection string.')
param appInsightsConnectionString string

@description('Flex Consumption: memory per instance in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int

@description('Flex Consumption: maximum number of instances.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int

@description('Flex Consumption: version of the "custom" runtime stack.')
param customRuntimeVersion string

@description('Elastic Premium: SKU.')
@allowed([
  'EP1'
  'EP2'
  'EP3'
])
param premiumSku string

@description('Elastic Premium: maximum number of instances the plan bursts to.')
@minValue(1)
@maxValue(100)
param premiumMaximumElasticWorkerCount int

@description('Elastic Premium: blob name of the package inside the deployment container (run from package).')
param premiumPackageBlobName string

@description('Settings of the app itself (name -> value), merged after the host settings.')
param appSettings object

var isFlex = planKind == 'FlexConsumption'

// Identity-based connection used by the Functions host (queue trigger, host state) and read by the app too
// (PaymentFunctions.Storage.StorageConnection): no keys anywhere.
var storageSettings = {
  AzureWebJobsStorage__accountName: storageAccountName
  AzureWebJobsStorage__blobServiceUri: blobEndpoint
  AzureWebJobsStorage__queueServiceUri: queueEndpoint
  AzureWebJobsStorage__tableServiceUri: tableEndpoint
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
}

// Read by the Functions host and, as environment variables of the custom handler process, by the app itself
// (docs/telemetry.md): it exports its traces, metrics and logs to the same component with the same Entra auth
// (ClientId = the user-assigned identity, which holds Monitoring Metrics Publisher there, see roles.bicep).
var telemetrySettings = {
  APPLICATIONINSIGHTS_CONNECTION_STRING: appInsightsConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
}

// Flex takes the runtime from functionAppConfig and rejects these settings. Elastic Premium needs them. Linux
// Elastic Premium would keep zip-deployed content on an Azure Files share, which needs a shared key; instead the
// app runs from the package blob, read with the user-assigned identity.
var premiumSettings = isFlex
  ? {}
  : {
      FUNCTIONS_EXTENSION_VERSION: '~4'
      FUNCTIONS_WORKER_RUNTIME: 'custom'
      WEBSITE_RUN_FROM_PACKAGE: '${deploymentContainerUrl}/${premiumPackageBlobName}'
      WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID: identityId
    }

var allSettings = union(storageSettings, telemetrySettings, premiumSettings, appSettings)

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: isFlex ? 'functionapp' : 'elastic'
  sku: isFlex
    ? {
        name: 'FC1'
        tier: 'FlexConsumption'
      }
    : {
        name: premiumSku
        tier: 'ElasticPremium'
      }
  properties: {
    reserved: true // Linux
    maximumElasticWorkerCount: isFlex ? null : premiumMaximumElasticWorkerCount
  }
}

resource app 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': azdServiceName })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientAffinityEnabled: false
    keyVaultReferenceIdentity: identityId
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      // App Service health check probes this route and takes failing instances out of rotation. Elastic Premium only:
      // a Flex Consumption app scales to zero, and a probe every minute would keep an instance (and its bill) awake.
      healthCheckPath: isFlex ? null : '/api/health'
      // A custom handler has no language stack image on Linux Premium: the stacks API gives an empty linuxFxVersion.
      linuxFxVersion: isFlex ? null : ''
      appSettings: [
        for setting in items(allSettings): {
          name: setting.key
          value: setting.value
        }
      ]
    }
    functionAppConfig: isFlex
      ? {
          deployment: {
            storage: {
              type: 'blobContainer'
              value: deploymentContainerUrl
              authentication: {
                type: 'UserAssignedIdentity'
                userAssignedIdentityResourceId: identityId
              }
            }
          }
          scaleAndConcurrency: {
            instanceMemoryMB: instanceMemoryMB
            maximumInstanceCount: maximumInstanceCount
          }
          runtime: {
            name: 'custom'
            version: customRuntimeVersion
          }
        }
      : null
  }
}

// Deployments go through Entra ID (azd / az functionapp deployment), never through basic-auth publishing profiles.
resource scmBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: app
  name: 'scm'
  properties: {
    allow: false
  }
}

resource ftpBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: app
  name: 'ftp'
  properties: {
    allow: false
  }
}

output name string = app.name
output defaultHostName string = app.properties.defaultHostName
