// Package samtemplate reads what a local runner needs from template.yaml
// about one function: memory size, timeout, architecture and environment,
// with the template's parameters at their defaults — what a deployment
// without overrides gives the function.
package samtemplate

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Function is a function's settings as deployed with default parameters.
type Function struct {
	MemorySize int
	// Timeout in seconds.
	Timeout      int
	Runtime      string
	Architecture string
	// Env holds the environment variables the template sets; those whose
	// value is a !Ref to a resource (TABLE_NAME: !Ref StoragesTable) are
	// listed in FromResources instead, for the runner to supply.
	Env           map[string]string
	FromResources []string
	// LogLevel is the application log level (LoggingConfig), which Lambda
	// passes as AWS_LAMBDA_LOG_LEVEL.
	LogLevel string
}

// Load reads the function logicalID of the template at path.
func Load(path, logicalID string) (Function, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return Function{}, err
	}
	return Parse(raw, logicalID)
}

// Parse reads the function logicalID of a template.
func Parse(raw []byte, logicalID string) (Function, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return Function{}, err
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		root = root.Content[0]
	}
	params := map[string]string{}
	if p := get(root, "Parameters"); p != nil {
		for i := 0; i+1 < len(p.Content); i += 2 {
			if d := get(p.Content[i+1], "Default"); d != nil {
				params[p.Content[i].Value] = d.Value
			}
		}
	}
	props := get(root, "Resources", logicalID, "Properties")
	if props == nil {
		return Function{}, fmt.Errorf("template: no function %s", logicalID)
	}
	globals := get(root, "Globals", "Function")
	f := Function{Env: map[string]string{}}
	scalar := func(key string) (string, bool, error) {
		n := get(props, key)
		if n == nil {
			n = get(globals, key)
		}
		if n == nil {
			return "", false, nil
		}
		v, fromResource, err := resolve(n, params)
		if err != nil {
			return "", false, fmt.Errorf("%s %s: %w", logicalID, key, err)
		}
		return v, !fromResource, nil
	}
	for key, dst := range map[string]*int{"MemorySize": &f.MemorySize, "Timeout": &f.Timeout} {
		v, ok, err := scalar(key)
		if err != nil {
			return Function{}, err
		}
		if !ok {
			continue
		}
		if *dst, err = strconv.Atoi(v); err != nil {
			return Function{}, fmt.Errorf("%s %s: %w", logicalID, key, err)
		}
	}
	if r, _, err := scalar("Runtime"); err != nil {
		return Function{}, err
	} else {
		f.Runtime = r
	}
	if a := get(props, "Architectures"); a != nil && len(a.Content) > 0 {
		f.Architecture = a.Content[0].Value
	} else if a := get(globals, "Architectures"); a != nil && len(a.Content) > 0 {
		f.Architecture = a.Content[0].Value
	}
	if l := get(props, "LoggingConfig", "ApplicationLogLevel"); l != nil {
		v, _, err := resolve(l, params)
		if err != nil {
			return Function{}, err
		}
		f.LogLevel = v
	}
	for _, vars := range []*yaml.Node{get(globals, "Environment", "Variables"), get(props, "Environment", "Variables")} {
		for i := 0; vars != nil && i+1 < len(vars.Content); i += 2 {
			name := vars.Content[i].Value
			v, fromResource, err := resolve(vars.Content[i+1], params)
			if err != nil {
				return Function{}, fmt.Errorf("%s %s: %w", logicalID, name, err)
			}
			if fromResource {
				f.FromResources = append(f.FromResources, name)
				delete(f.Env, name)
				continue
			}
			f.Env[name] = v
		}
	}
	return f, nil
}

// resolve gives a scalar's value: a literal, or a !Ref to a parameter (its
// default). A !Ref to anything else reports fromResource.
func resolve(n *yaml.Node, params map[string]string) (value string, fromResource bool, err error) {
	switch {
	case n.Kind == yaml.ScalarNode && n.Tag == "!Ref":
		if v, ok := params[n.Value]; ok {
			return v, false, nil
		}
		return "", true, nil
	case n.Kind == yaml.ScalarNode && (n.Tag == "" || strings.HasPrefix(n.Tag, "!!")):
		return n.Value, false, nil
	}
	return "", false, fmt.Errorf("unsupported value (tag %q); only literals and !Ref are read", n.Tag)
}

// get walks mapping keys; nil when a key is missing.
func get(n *yaml.Node, path ...string) *yaml.Node {
	for _, key := range path {
		if n == nil || n.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				next = n.Content[i+1]
			}
		}
		n = next
	}
	return n
}
