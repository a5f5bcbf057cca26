// Alerts: a message reached the poison queue, function executions failed, an event was not delivered, and money
// needs a person. All are log search alerts on the Log Analytics workspace (queue write logs from storage.bicep, and
// the workspace-based Application Insights tables), routed to one action group.

@description('Azure region of the alert rules.')
param location string

@description('Tags for every resource.')
param tags object

@description('Action group name.')
param actionGroupName string

@description('Email address that receives the alerts. Empty: the action group has no receiver (attach one later).')
param alertEmail string

@description('Log Analytics workspace the rules query.')
param workspaceId string

@description('Function app whose executions are watched (its cloud role name in Application Insights).')
param functionAppName string

@description('Poison queue name.')
param poisonQueueName string

@description('Event delivery poison queue name.')
param eventPoisonQueueName string

@description('Alert when more than this many executions fail within the window.')
@minValue(0)
param failedExecutionsThreshold int

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: actionGroupName
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'payments'
    enabled: true
    emailReceivers: empty(alertEmail)
      ? []
      : [
          {
            name: 'operator'
            emailAddress: alertEmail
            useCommonAlertSchema: true
          }
        ]
  }
}

// Depth > 0 starts with a write into the poison queue (by the Functions host after maxDequeueCount failed
// attempts, or by the standalone listener). The rule fires for every window with such a write; drain or replay the
// poison queue after investigating.
resource poisonQueueAlert 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'alert-poison-${poisonQueueName}'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'Payment notification moved to ${poisonQueueName}'
    description: 'A payment notification failed processing maxDequeueCount times and is now in the poison queue: the order it belongs to was not updated.'
    severity: 1
    enabled: true
    scopes: [
      workspaceId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    criteria: {
      allOf: [
        {
          query: 'StorageQueueLogs | where OperationName == "PutMessage" | where Uri contains "/${poisonQueueName}/messages"'
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}

resource failedExecutionsAlert 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'alert-failed-executions-${functionAppName}'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'Failed function executions in ${functionAppName}'
    description: 'Function invocations that failed (the handler answered non-2xx to the host, or the host could not reach it).'
    severity: 2
    enabled: true
    scopes: [
      workspaceId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    criteria: {
      allOf: [
        {
          query: 'AppRequests | where AppRoleName =~ "${functionAppName}" | where Success == false'
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: failedExecutionsThreshold
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}

// An event that no attempt of its retry schedule delivered (the app logs a warning starting "ALERT event"), or a
// delivery message that could not be processed at all: the business system missed a change until it is redelivered.
resource eventDeliveryAlert 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'alert-event-delivery-${functionAppName}'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'Event delivery failed in ${functionAppName}'
    description: 'An event was not delivered to an endpoint within its retry schedule (marked failed; redeliver it with POST /api/events/{eventId}/redeliver once the receiver is fixed), or a delivery message reached ${eventPoisonQueueName}.'
    severity: 2
    enabled: true
    scopes: [
      workspaceId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    criteria: {
      allOf: [
        {
          query: 'union (AppTraces | where AppRoleName =~ "${functionAppName}" | where Message startswith "ALERT event"), (StorageQueueLogs | where OperationName == "PutMessage" | where Uri contains "/${eventPoisonQueueName}/messages")'
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}

// Money that needs a person: an automatic refund of a payment the order could not keep (a second payment, a wrong
// amount, a payment after close), a refund still pending after its last scheduled check, or a platform answer about
// a refund that does not match ours. The app logs each as a warning starting "ALERT" (events have their own rule).
resource moneyAlert 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'alert-money-${functionAppName}'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'Payment or refund needs attention in ${functionAppName}'
    description: 'A payment was refunded automatically, a refund did not end within its checks, or a platform answer about a refund did not match ours. See docs/operations.md, "Payment or refund needs attention".'
    severity: 1
    enabled: true
    scopes: [
      workspaceId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    criteria: {
      allOf: [
        {
          query: 'AppTraces | where AppRoleName =~ "${functionAppName}" | where Message startswith "ALERT" and not(Message startswith "ALERT event")'
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}
