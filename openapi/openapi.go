// Package openapi holds the OpenAPI 3 document of the storage API
// (openapi.yaml), which package httpapi serves at httpapi.OpenAPIPath.
// TestOpenAPIDocumentsEveryRoute (package httpapi) keeps its paths and
// methods those the handler answers; the contract test in internal/e2e
// (make contract) holds the running service to the rest of it.
package openapi

import _ "embed"

// Document is openapi.yaml.
//
//go:embed openapi.yaml
var Document []byte

// ContentType is the media type the document is served as.
const ContentType = "application/yaml"
