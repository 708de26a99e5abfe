package httpapi_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/lsdbx/databricks-storage/internal/auth"
	"github.com/lsdbx/databricks-storage/internal/core"
	"github.com/lsdbx/databricks-storage/internal/httpapi"
	"github.com/lsdbx/databricks-storage/openapi"
)

// everyMethod is what the handler is probed with on every path.
var everyMethod = []string{
	http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
	http.MethodDelete, http.MethodOptions, http.MethodTrace, http.MethodConnect,
}

// document is what the route test reads of the OpenAPI document.
type document struct {
	Security   []map[string][]string `yaml:"security"`
	Paths      map[string]map[string]yaml.Node
	Components struct {
		SecuritySchemes map[string]struct {
			Type string `yaml:"type"`
			In   string `yaml:"in"`
			Name string `yaml:"name"`
		} `yaml:"securitySchemes"`
	}
}

// operation is what the route test reads of one operation.
type operation struct {
	Security *[]map[string][]string `yaml:"security"`
}

// documentedOperations returns the document's operations: path → method
// (upper case) → whether the operation requires the Token scheme.
func documentedOperations(t *testing.T) map[string]map[string]bool {
	t.Helper()
	var doc document
	if err := yaml.Unmarshal(openapi.Document, &doc); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	if s := doc.Components.SecuritySchemes["Token"]; s.Type != "apiKey" || s.In != "header" || s.Name != "Authorization" {
		t.Errorf("securitySchemes.Token = %+v, want an apiKey in the Authorization header", s)
	}
	ops := map[string]map[string]bool{}
	for path, item := range doc.Paths {
		ops[path] = map[string]bool{}
		for key, node := range item {
			method := strings.ToUpper(key)
			if !slices.Contains(everyMethod, method) {
				continue // parameters, summary, description, servers
			}
			var op operation
			if err := node.Decode(&op); err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
			security := doc.Security
			if op.Security != nil {
				security = *op.Security
			}
			ops[path][method] = slices.ContainsFunc(security, func(req map[string][]string) bool {
				_, ok := req["Token"]
				return ok
			})
		}
	}
	return ops
}

// refuseAll is an authenticator for which no request has credentials.
type refuseAll struct{}

func (refuseAll) Authenticate(context.Context, string) (core.Principal, error) {
	return core.Principal{}, auth.ErrNoCredentials
}

// TestOpenAPIDocumentsEveryRoute holds the OpenAPI document to the handler:
// the paths and methods of the handler's route table (httpapi.Routes, which
// the router answers 405 from) are exactly the document's; probed with
// every method on every documented path (with and without the trailing
// slash), the handler routes the documented ones (neither 404 nor 405) and
// answers every other with 405 and an Allow header naming the documented
// ones; an operation the document leaves without security is served
// without credentials, and every other refuses a caller without them.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	documented := documentedOperations(t)

	inCode := map[string][]string{}
	for _, r := range httpapi.Routes() {
		if r.Path == "" {
			t.Errorf("a route with methods %v has no path in the route table", r.Methods)
		}
		inCode[r.Path] = r.Methods
	}
	for path, ms := range inCode {
		for _, m := range ms {
			if _, ok := documented[path][m]; !ok {
				t.Errorf("%s %s is served but not in openapi/openapi.yaml", m, path)
			}
		}
	}
	for path, ops := range documented {
		for m := range ops {
			if !slices.Contains(inCode[path], m) {
				t.Errorf("%s %s is in openapi/openapi.yaml but not served", m, path)
			}
		}
	}

	for path, ops := range documented {
		var allowed []string
		for m := range ops {
			allowed = append(allowed, m)
		}
		slices.Sort(allowed)
		concrete := strings.ReplaceAll(path, "{id}", "1")
		other := concrete + "/"
		if strings.HasSuffix(concrete, "/") {
			other = strings.TrimSuffix(concrete, "/")
		}
		for _, p := range []string{concrete, other} {
			for _, m := range everyMethod {
				h := newHarness()
				resp := h.doQuery(m, p, "project=1", nil, "{}")
				_, documentedMethod := ops[m]
				switch {
				case documentedMethod && (resp.Status == http.StatusNotFound || resp.Status == http.StatusMethodNotAllowed):
					t.Errorf("%s %s (documented) = %d: %s", m, p, resp.Status, resp.Body)
				case !documentedMethod && resp.Status != http.StatusMethodNotAllowed:
					t.Errorf("%s %s (not documented) = %d, want 405: %s", m, p, resp.Status, resp.Body)
				case !documentedMethod:
					allow := strings.Split(resp.Headers["Allow"], ", ")
					slices.Sort(allow)
					if !slices.Equal(allow, allowed) {
						t.Errorf("%s %s: Allow = %q, want the documented %v", m, p, resp.Headers["Allow"], allowed)
					}
				}
			}
		}
		for m, needsToken := range ops {
			h := newHarness()
			h.h.Auth = refuseAll{}
			resp := h.doQuery(m, concrete, "project=1", nil, "{}")
			if got := resp.Status == http.StatusUnauthorized; got != needsToken {
				t.Errorf("%s %s without credentials = %d; the document says it needs a token: %v", m, concrete, resp.Status, needsToken)
			}
			if needsToken && resp.Headers["Www-Authenticate"] != "Token" {
				t.Errorf("%s %s: WWW-Authenticate = %q, want Token", m, concrete, resp.Headers["Www-Authenticate"])
			}
		}
	}
}

// TestOpenAPIDocumentIsServed checks that the document is served as it is
// embedded, to anyone, as YAML.
func TestOpenAPIDocumentIsServed(t *testing.T) {
	h := newHarness()
	h.h.Auth = refuseAll{}
	for _, path := range []string{httpapi.OpenAPIPath, httpapi.OpenAPIPath + "/"} {
		resp := h.do(http.MethodGet, path, map[string]string{}, "")
		if resp.Status != http.StatusOK || string(resp.Body) != string(openapi.Document) {
			t.Fatalf("GET %s = %d, %d bytes; want 200 and the document", path, resp.Status, len(resp.Body))
		}
		if ct := resp.Headers["Content-Type"]; ct != openapi.ContentType {
			t.Errorf("Content-Type = %q, want %q", ct, openapi.ContentType)
		}
	}
	resp := h.do(http.MethodPost, httpapi.OpenAPIPath, nil, "{}")
	checkError(t, resp, http.StatusMethodNotAllowed, false)
	if resp.Headers["Allow"] != "GET, HEAD" {
		t.Errorf("Allow = %q, want GET, HEAD", resp.Headers["Allow"])
	}
}
