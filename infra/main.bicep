// PaymentFunctions: an ASP.NET Core app running as an Azure Functions custom handler.
// Deploys into an existing resource group: `azd up` (see azure.yaml) or `az deployment group create`.
// Secrets are @secure() parameters that go straight into Key Vault; no output carries a secret.
targetScope = 'resourceGroup'

// ---------------------------------------------------------------------------------------------------------------
// Environment

@minLength(1)
@maxLength(64)
@description('Environment name (azd: AZURE_ENV_NAME). Seeds the unique resource names and is the azd-env-name tag.')
param environmentName string

@description('Azure region. Flex Consumption is available in a subset of regions: az functionapp list-flexconsumption-locations.')
param location string = resourceGroup().location

@description('Function app name; also its host name <name>.azurewebsites.net. Empty: func-payments-<unique>.')
@maxLength(60)
param functionAppName string = ''

// ---------------------------------------------------------------------------------------------------------------
// Hosting

@description('FlexConsumption (FC1, pay per execution, scales to zero) or ElasticPremium (EP1-EP3, always-warm instances).')
@allowed([
  'FlexConsumption'
  'ElasticPremium'
])
param planKind string = 'FlexConsumption'

@description('Flex Consumption: memory per instance in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Flex Consumption: maximum number of instances the app scales out to.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Flex Consumption: version of the "custom" runtime stack (az functionapp list-flexconsumption-runtimes -l <region> --runtime custom).')
param customRuntimeVersion string = '1.0'

@description('Elastic Premium: plan SKU.')
@allowed([
  'EP1'
  'EP2'
  'EP3'
])
param premiumSku string = 'EP1'

@description('Elastic Premium: maximum number of instances the plan bursts to.')
@minValue(1)
@maxValue(100)
param premiumMaximumElasticWorkerCount int = 20

@description('Storage account redundancy.')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_GZRS'
])
param storageSkuName string = 'Standard_LRS'

@description('Days Log Analytics keeps logs.')
@minValue(30)
@maxValue(730)
param logRetentionInDays int = 30

@description('Key Vault purge protection. Recommended for production; once on it cannot be turned off, and a deleted vault keeps its name for 90 days.')
param keyVaultPurgeProtection bool = true

@description('Optional: object id of a person or pipeline allowed to set the vault\'s secrets (Key Vault Secrets Officer). azd passes the signed-in principal.')
param vaultOperatorPrincipalId string = ''

// ---------------------------------------------------------------------------------------------------------------
// P云 (non-secret settings; the app_secret goes to Key Vault)

@description('P云 OpenAPI gateway (test environment: https://dev-api.4pyun.com).')
param pyunBaseUrl string = 'https://api.4pyun.com'

@description('P云 app_id.')
param pyunAppId string = ''

@description('P云 car-park merchant number.')
param pyunMerchant string = ''

@description('URL P云 posts payment results to. Empty: https://<app>.azurewebsites.net/api/notify/pyun.')
param pyunNotifyUrl string = ''

@secure()
@description('P云 app_secret, stored as Key Vault secret pyun-app-secret. Empty: keep the vault\'s current value (set it with az keyvault secret set).')
param pyunAppSecret string = ''

// ---------------------------------------------------------------------------------------------------------------
// WeChat Pay (Pay Score); all settings are written only when enabled

@description('Write the WeChatPay__* app settings.')
param weChatPayEnabled bool = false

@description('WeChat Pay mode: direct (直连商户) or partner (服务商).')
@allowed([
  'direct'
  'partner'
])
param weChatPayMode string = 'direct'

@description('WeChat Pay merchant id (mchid; sp_mchid in partner mode).')
param weChatPayMchId string = ''

@description('Partner mode: sub-merchant id (sub_mchid).')
param weChatPaySubMchId string = ''

@description('App id (appid; sp_appid in partner mode).')
param weChatPayAppId string = ''

@description('Partner mode: sub app id (sub_appid).')
param weChatPaySubAppId string = ''

@description('Pay Score service id (service_id).')
param weChatPayServiceId string = ''

@description('Serial number of the merchant API certificate.')
param weChatPayMerchantCertificateSerial string = ''

@description('WeChat Pay public key id (PUB_KEY_ID_...), when verifying with the WeChat Pay public key.')
param weChatPayPlatformPublicKeyId string = ''

@description('WeChat Pay public key (PEM), when verifying with the WeChat Pay public key. Public, not a secret.')
param weChatPayPlatformPublicKey string = ''

@description('Serial of a WeChat Pay platform certificate, when verifying with platform certificates (both kinds may be set during the migration).')
param weChatPayPlatformCertificateSerial string = ''

@description('That platform certificate (PEM). Public, not a secret.')
param weChatPayPlatformCertificate string = ''

@description('URL WeChat Pay posts notifications to. Empty: https://<app>.azurewebsites.net/api/notify/wechatpay.')
param weChatPayNotifyUrl string = ''

@secure()
@description('WeChat Pay APIv3 key, stored as Key Vault secret wechatpay-apiv3-key. Empty: keep the vault\'s current value.')
param weChatPayApiV3Key string = ''

@secure()
@description('Merchant API private key (PEM), stored as Key Vault secret wechatpay-merchant-private-key. Empty: keep the vault\'s current value.')
param weChatPayMerchantPrivateKey string = ''

// ---------------------------------------------------------------------------------------------------------------
// Events (docs/events.md): one receiver, endpoint "business"; more can be added as app settings
// Events__Endpoints__<name>__Url / __Secret (a Key Vault reference) / __Types.

@description('URL of the business system\'s event receiver (https). Empty: events are recorded, none is delivered.')
param eventEndpointUrl string = ''

@description('Event types the receiver gets, comma-separated (e.g. order.paid,payscore.paid). Empty: all.')
param eventEndpointTypes string = ''

@secure()
@description('Signing secret (whsec_ + Base64 of 24-64 random bytes), stored as Key Vault secret events-business-secret. Empty: keep the vault\'s current value.')
param eventEndpointSecret string = ''

// ---------------------------------------------------------------------------------------------------------------
// Alerts

@description('Email address for alerts. Empty: the action group is created without a receiver.')
param alertEmail string = ''

@description('Alert when more than this many function executions fail within 15 minutes.')
@minValue(0)
param failedExecutionsThreshold int = 0

// ---------------------------------------------------------------------------------------------------------------
// Names

var resourceToken = toLower(uniqueString(subscription().id, resourceGroup().id, environmentName))
var tags = {
  'azd-env-name': environmentName
  application: 'PaymentFunctions'
}
var appName = empty(functionAppName) ? 'func-payments-${resourceToken}' : functionAppName
// Default host name; apps created with a per-region unique host name must set pyunNotifyUrl explicitly.
var appBaseUrl = 'https://${appName}.azurewebsites.net'
var keyVaultName = 'kv-${resourceToken}'
var deploymentContainerName = 'app-package'
// The queue named in PaymentFunctions/Functions/ProcessNotification/function.json; the host adds -poison.
var notificationQueueName = 'payment-notifications'
var poisonQueueName = '${notificationQueueName}-poison'
// The queue named in PaymentFunctions/Functions/DeliverEvent/function.json: one message per event and endpoint.
var eventQueueName = 'payment-events'
var eventPoisonQueueName = '${eventQueueName}-poison'

// ---------------------------------------------------------------------------------------------------------------
// Resources

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: 'id-${resourceToken}'
  location: location
  tags: tags
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    location: location
    tags: tags
    logAnalyticsName: 'log-${resourceToken}'
    appInsightsName: 'appi-${resourceToken}'
    retentionInDays: logRetentionInDays
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: {
    location: location
    tags: tags
    name: 'st${resourceToken}'
    skuName: storageSkuName
    deploymentContainerName: deploymentContainerName
    tableNames: [
      'PaymentOrders'
      'PaymentOrderIndex'
      'PayScoreOrders'
      'PaymentOrphans'
    ]
    queueNames: [
      notificationQueueName
      poisonQueueName
      eventQueueName
      eventPoisonQueueName
    ]
    workspaceId: monitoring.outputs.workspaceId
  }
}

module keyVault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  params: {
    location: location
    tags: tags
    name: keyVaultName
    enablePurgeProtection: keyVaultPurgeProtection
    pyunAppSecret: pyunAppSecret
    weChatPayApiV3Key: weChatPayApiV3Key
    weChatPayMerchantPrivateKey: weChatPayMerchantPrivateKey
    eventEndpointSecret: eventEndpointSecret
  }
}

module roles 'modules/roles.bicep' = {
  name: 'roles'
  params: {
    principalId: identity.properties.principalId
    storageAccountName: storage.outputs.name
    keyVaultName: keyVault.outputs.name
    appInsightsName: monitoring.outputs.appInsightsName
    vaultOperatorPrincipalId: vaultOperatorPrincipalId
  }
}

// The app reads secrets through Key Vault references resolved by the platform with the user-assigned identity
// (keyVaultReferenceIdentity); the values never appear in the template, its outputs or the app's configuration.
func keyVaultReference(vaultName string, secretName string) string =>
  '@Microsoft.KeyVault(VaultName=${vaultName};SecretName=${secretName})'

var pyunSettings = {
  Pyun__BaseUrl: pyunBaseUrl
  Pyun__AppId: pyunAppId
  Pyun__Merchant: pyunMerchant
  Pyun__NotifyUrl: empty(pyunNotifyUrl) ? '${appBaseUrl}/api/notify/pyun' : pyunNotifyUrl
  Pyun__AppSecret: keyVaultReference(keyVaultName, 'pyun-app-secret')
}

var weChatPaySettings = weChatPayEnabled
  ? {
      WeChatPay__Mode: weChatPayMode
      WeChatPay__MchId: weChatPayMchId
      WeChatPay__SubMchId: weChatPaySubMchId
      WeChatPay__AppId: weChatPayAppId
      WeChatPay__SubAppId: weChatPaySubAppId
      WeChatPay__ServiceId: weChatPayServiceId
      WeChatPay__MerchantCertificateSerial: weChatPayMerchantCertificateSerial
      WeChatPay__NotifyUrl: empty(weChatPayNotifyUrl) ? '${appBaseUrl}/api/notify/wechatpay' : weChatPayNotifyUrl
      WeChatPay__ApiV3Key: keyVaultReference(keyVaultName, 'wechatpay-apiv3-key')
      WeChatPay__MerchantPrivateKey: keyVaultReference(keyVaultName, 'wechatpay-merchant-private-key')
    }
  : {}

// The app reads keys by id (WeChatPay:PublicKeys:<PUB_KEY_ID_...>) and certificates by serial
// (WeChatPay:PlatformCertificates:<serial>), so the setting names carry the id.
var weChatPayKeySettings = union(
  weChatPayEnabled && !empty(weChatPayPlatformPublicKeyId)
    ? { 'WeChatPay__PublicKeys__${weChatPayPlatformPublicKeyId}': weChatPayPlatformPublicKey }
    : {},
  weChatPayEnabled && !empty(weChatPayPlatformCertificateSerial)
    ? { 'WeChatPay__PlatformCertificates__${weChatPayPlatformCertificateSerial}': weChatPayPlatformCertificate }
    : {}
)

var eventSettings = union(
  empty(eventEndpointUrl)
    ? {}
    : {
        Events__Endpoints__business__Url: eventEndpointUrl
        Events__Endpoints__business__Secret: keyVaultReference(keyVaultName, 'events-business-secret')
      },
  empty(eventEndpointUrl) || empty(eventEndpointTypes) ? {} : { Events__Endpoints__business__Types: eventEndpointTypes }
)

module functionApp 'modules/functionapp.bicep' = {
  name: 'functionapp'
  params: {
    location: location
    tags: tags
    planKind: planKind
    planName: 'plan-${resourceToken}'
    name: appName
    azdServiceName: 'api'
    identityId: identity.id
    identityClientId: identity.properties.clientId
    storageAccountName: storage.outputs.name
    blobEndpoint: storage.outputs.blobEndpoint
    queueEndpoint: storage.outputs.queueEndpoint
    tableEndpoint: storage.outputs.tableEndpoint
    deploymentContainerUrl: storage.outputs.deploymentContainerUrl
    appInsightsConnectionString: monitoring.outputs.appInsightsConnectionString
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
    customRuntimeVersion: customRuntimeVersion
    premiumSku: premiumSku
    premiumMaximumElasticWorkerCount: premiumMaximumElasticWorkerCount
    premiumPackageBlobName: 'functionapp.zip'
    appSettings: union(pyunSettings, weChatPaySettings, weChatPayKeySettings, eventSettings)
  }
  // The app must not start before it may read storage, the vault and App Insights.
  dependsOn: [
    roles
  ]
}

module alerts 'modules/alerts.bicep' = {
  name: 'alerts'
  params: {
    location: location
    tags: tags
    actionGroupName: 'ag-${resourceToken}'
    alertEmail: alertEmail
    workspaceId: monitoring.outputs.workspaceId
    functionAppName: functionApp.outputs.name
    poisonQueueName: poisonQueueName
    eventPoisonQueueName: eventPoisonQueueName
    failedExecutionsThreshold: failedExecutionsThreshold
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Outputs (azd stores them in .azure/<env>/.env; none is a secret)

output AZURE_LOCATION string = location
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output SERVICE_API_NAME string = functionApp.outputs.name
output SERVICE_API_URI string = 'https://${functionApp.outputs.defaultHostName}'
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output AZURE_DEPLOYMENT_CONTAINER_URL string = storage.outputs.deploymentContainerUrl
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output PLAN_KIND string = planKind
