// Key Vault (RBAC authorization, no access policies) with the app's secrets. A secret is written only when its
// value is passed in; an empty value leaves whatever the vault already holds untouched, so secrets can also be set
// out of band (az keyvault secret set) and survive later deployments.

@description('Azure region.')
param location string

@description('Tags for every resource.')
param tags object

@description('Key Vault name (3-24 characters).')
@minLength(3)
@maxLength(24)
param name string

@description('Turn on purge protection (cannot be turned off again).')
param enablePurgeProtection bool

@description('P云 app_secret (secret pyun-app-secret). Empty: leave the vault as it is.')
@secure()
param pyunAppSecret string

@description('WeChat Pay APIv3 key (secret wechatpay-apiv3-key). Empty: leave the vault as it is.')
@secure()
param weChatPayApiV3Key string

@description('WeChat Pay merchant private key, PEM (secret wechatpay-merchant-private-key). Empty: leave the vault as it is.')
@secure()
param weChatPayMerchantPrivateKey string

@description('Event receiver signing secret, whsec_… (secret events-business-secret). Empty: leave the vault as it is.')
@secure()
param eventEndpointSecret string

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: enablePurgeProtection ? true : null
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

// Secret names are fixed here and in the app settings' Key Vault references (functionapp.bicep).
resource pyunAppSecretValue 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(pyunAppSecret)) {
  parent: vault
  name: 'pyun-app-secret'
  properties: {
    value: pyunAppSecret
  }
}

resource weChatPayApiV3KeyValue 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(weChatPayApiV3Key)) {
  parent: vault
  name: 'wechatpay-apiv3-key'
  properties: {
    value: weChatPayApiV3Key
  }
}

resource weChatPayMerchantPrivateKeyValue 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(weChatPayMerchantPrivateKey)) {
  parent: vault
  name: 'wechatpay-merchant-private-key'
  properties: {
    value: weChatPayMerchantPrivateKey
    contentType: 'application/x-pem-file'
  }
}

output name string = vault.name
output id string = vault.id

resource eventEndpointSecretValue 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(eventEndpointSecret)) {
  parent: vault
  name: 'events-business-secret'
  properties: {
    value: eventEndpointSecret
  }
}
