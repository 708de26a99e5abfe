package samtemplate

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"gopkg.in/yaml.v3"
)

// Table is a DynamoDB table as the template declares it. Its fields carry
// CloudFormation's property names, which are those of DynamoDB's
// CreateTable API, so that a local runner can create the very table a
// deployment gets: the schema is declared once, in template.yaml.
type Table struct {
	BillingMode          string
	AttributeDefinitions []struct {
		AttributeName string
		AttributeType string
	}
	KeySchema              []KeyElement
	GlobalSecondaryIndexes []struct {
		IndexName  string
		KeySchema  []KeyElement
		Projection struct {
			ProjectionType   string
			NonKeyAttributes []string
		}
	}
	TimeToLiveSpecification *struct {
		AttributeName string
		Enabled       bool
	}
}

// KeyElement is one attribute of a key schema.
type KeyElement struct {
	AttributeName string
	KeyType       string
}

// LoadTable reads the table logicalID of the template at path.
func LoadTable(path, logicalID string) (Table, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return Table{}, err
	}
	return ParseTable(raw, logicalID)
}

// ParseTable reads the table logicalID of a template. Only literal
// properties are read; the schema has no !Ref.
func ParseTable(raw []byte, logicalID string) (Table, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return Table{}, err
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		root = root.Content[0]
	}
	res := get(root, "Resources", logicalID)
	if t := get(res, "Type"); t == nil || t.Value != "AWS::DynamoDB::Table" {
		return Table{}, fmt.Errorf("template: no table %s", logicalID)
	}
	// yaml.v3 decodes into interface{} with string keys; JSON then maps
	// CloudFormation's property names onto the struct's fields.
	var props any
	if err := get(res, "Properties").Decode(&props); err != nil {
		return Table{}, fmt.Errorf("template: table %s: %w", logicalID, err)
	}
	raw, err := json.Marshal(props)
	if err != nil {
		return Table{}, fmt.Errorf("template: table %s: %w", logicalID, err)
	}
	var t Table
	if err := json.Unmarshal(raw, &t); err != nil {
		return Table{}, fmt.Errorf("template: table %s: %w", logicalID, err)
	}
	if len(t.KeySchema) == 0 {
		return Table{}, fmt.Errorf("template: table %s has no KeySchema", logicalID)
	}
	return t, nil
}

// Path finds template.yaml: in the working directory or the nearest parent
// holding go.mod (tests run in their package's folder, make in the root).
func Path() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			p := filepath.Join(dir, "template.yaml")
			if _, err := os.Stat(p); err != nil {
				return "", fmt.Errorf("template.yaml beside %s: %w", filepath.Join(dir, "go.mod"), err)
			}
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("template.yaml not found: run from inside the repository")
		}
		dir = parent
	}
}
