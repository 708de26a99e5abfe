package dynamostore

// TTLAttribute is the attribute DynamoDB's time to live reads (epoch
// seconds); template.yaml's table names it (TestTemplateTableHasWhatTheStoreAddresses).
const TTLAttribute = "expires_at"
