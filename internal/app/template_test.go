package app_test

import (
	"encoding/json"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/lsdbx/databricks-storage/internal/core"
	"github.com/lsdbx/databricks-storage/internal/dynamostore"
	"github.com/lsdbx/databricks-storage/internal/httpapi"
	"github.com/lsdbx/databricks-storage/internal/secretstore"
	"github.com/lsdbx/databricks-storage/internal/storage"
)

// node walks a YAML document by map keys and list indexes ("Resources",
// "CreateStorageFunction", "Properties", …), ignoring CloudFormation's
// short-form tags (!Ref, !Sub, …), whose values stay plain scalars.
type node struct{ *yaml.Node }

func (n node) get(path ...string) node {
	cur := n.Node
	for _, key := range path {
		if cur == nil {
			return node{}
		}
		if cur.Kind == yaml.DocumentNode {
			cur = cur.Content[0]
		}
		var next *yaml.Node
		if cur.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(cur.Content); i += 2 {
				if cur.Content[i].Value == key {
					next = cur.Content[i+1]
				}
			}
		}
		cur = next
	}
	return node{cur}
}

// strings returns every scalar under n.
func (n node) strings() []string {
	if n.Node == nil {
		return nil
	}
	if n.Kind == yaml.ScalarNode {
		return []string{n.Value}
	}
	var out []string
	for _, c := range n.Content {
		out = append(out, node{c}.strings()...)
	}
	return out
}

func loadTemplate(t *testing.T) node {
	t.Helper()
	raw, err := os.ReadFile("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	return node{&doc}
}

// statements returns the IAM statements of a role, keyed by Sid.
func statements(t *testing.T, tpl node, role string) map[string]node {
	t.Helper()
	out := map[string]node{}
	policies := tpl.get("Resources", role, "Properties", "Policies")
	if policies.Node == nil {
		t.Fatalf("role %s has no policies", role)
	}
	for _, p := range policies.Content {
		for _, st := range (node{p}).get("PolicyDocument", "Statement").Content {
			s := node{st}
			if s.Tag == "!If" { // a conditional statement: its "then" branch
				s = node{st.Content[1]}
			}
			if sid := s.get("Sid"); sid.Node != nil {
				out[sid.Value] = s
			}
		}
	}
	return out
}

// The template's least-privilege and safety settings hold (hostile review,
// issue "Close the holes"): each check failed on the template before.
func TestTemplateGuards(t *testing.T) {
	tpl := loadTemplate(t)
	params := tpl.get("Parameters")
	if got := params.get("TokenCacheSeconds", "MaxValue").Value; got != "300" {
		t.Errorf("TokenCacheSeconds MaxValue = %q, want 300", got)
	}
	if desc := params.get("TokenCacheSeconds", "Description").Value; !strings.Contains(desc, "API key") || strings.Contains(desc, "OAuth") {
		t.Errorf("TokenCacheSeconds says it is something else than the API key cache: %q", desc)
	}
	if pattern := params.get("SecretNamePrefix", "AllowedPattern").Value; !strings.HasSuffix(pattern, "/$") {
		t.Errorf("SecretNamePrefix pattern %q lets a prefix end without /", pattern)
	}
	if got := tpl.get("Resources", "CreateStorageFunction", "Properties", "Events", "CreateEvent", "Properties", "Pattern", "account").strings(); !slices.Contains(got, "AWS::AccountId") {
		t.Errorf("the EventBridge rule does not match only the stack's account: %v", got)
	}

	create := statements(t, tpl, "CreateStorageFunctionRole")
	allowed := map[string]bool{}
	for _, s := range create {
		for _, a := range s.get("Action").strings() {
			allowed[a] = true
		}
	}
	for _, never := range []string{"dynamodb:BatchGetItem", "dynamodb:Scan", "secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage"} {
		if allowed[never] {
			t.Errorf("the create role allows %s, which the create function never calls", never)
		}
	}
	for sid, s := range create {
		actions := s.get("Action").strings()
		resources := strings.Join(s.get("Resource").strings(), " ")
		if slices.Contains(actions, "secretsmanager:GetSecretValue") && !strings.Contains(resources, "incoming/") && resources != labelStudioSecret {
			t.Errorf("statement %s lets the create function read storage secrets (%s)", sid, resources)
		}
		if slices.ContainsFunc(actions, func(a string) bool { return a == "dynamodb:PutItem" || a == "dynamodb:UpdateItem" }) {
			keys := s.get("Condition", "ForAllValues:StringLike", "dynamodb:LeadingKeys").strings()
			if len(keys) == 0 || slices.ContainsFunc(keys, func(k string) bool { return strings.HasPrefix(k, "TOKEN#") }) {
				t.Errorf("statement %s lets the create function write items other than its own: %v", sid, keys)
			}
		}
	}

	// The file route reads records and secrets, and nothing else: no write,
	// no other item type, no listing; its URL streams and is signed by the
	// front door.
	for sid, s := range statements(t, tpl, "FilesFunctionRole") {
		for _, a := range s.get("Action").strings() {
			if !slices.Contains([]string{"dynamodb:GetItem", "secretsmanager:GetSecretValue", "kms:Decrypt",
				"logs:CreateLogStream", "logs:PutLogEvents", "xray:PutTraceSegments", "xray:PutTelemetryRecords"}, a) {
				t.Errorf("statement %s lets the files function %s", sid, a)
			}
			resources := strings.Join(s.get("Resource").strings(), " ")
			if a == "secretsmanager:GetSecretValue" && !strings.HasSuffix(resources, "${SecretNamePrefix}storage-*") {
				t.Errorf("statement %s lets the files function read secrets other than storage secrets: %s", sid, resources)
			}
			if keys := s.get("Condition", "ForAllValues:StringLike", "dynamodb:LeadingKeys").strings(); a == "dynamodb:GetItem" && !slices.Equal(keys, []string{"STORAGE#*"}) {
				t.Errorf("statement %s lets the files function read items other than storage records: %v", sid, keys)
			}
		}
	}
	url := tpl.get("Resources", "FilesFunction", "Properties", "FunctionUrlConfig")
	if url.get("InvokeMode").Value != "RESPONSE_STREAM" || url.get("AuthType").Value != "AWS_IAM" {
		t.Errorf("the files function's URL is %v, want AWS_IAM and RESPONSE_STREAM", url.strings())
	}

	manage := statements(t, tpl, "ManageStorageFunctionRole")
	for sid, s := range manage {
		if slices.Contains(s.get("Action").strings(), "secretsmanager:CreateSecret") {
			t.Errorf("statement %s lets the manage function create secrets", sid)
		}
	}
}

// Every variable the functions read from the environment that a deployment
// sets is declared in the template, and the other way round.
func TestTemplateSetsTheVariablesTheFunctionsRead(t *testing.T) {
	tpl := loadTemplate(t)
	for fn, want := range map[string][]string{
		"CreateStorageFunction": {"TABLE_NAME", "SECRET_NAME_PREFIX", "SECRETS_KMS_KEY_ID", "DATABRICKS_ALLOWED_HOST_SUFFIXES", "TOKEN_CACHE_SECONDS", "IDEMPOTENCY_TTL_HOURS", "METRICS_NAMESPACE",
			"LABEL_STUDIO_URL", "LABEL_STUDIO_TOKEN_SECRET", "FILES_BASE_URL", "AWS_ENDPOINT_URL", "DATABRICKS_ALLOW_PRIVATE_HOSTS", "AZURE_AUTHORITY_HOST"},
		"ManageStorageFunction": {"TABLE_NAME", "SECRET_NAME_PREFIX", "SECRET_RECOVERY_DAYS", "DATABRICKS_ALLOWED_HOST_SUFFIXES", "TOKEN_CACHE_SECONDS", "METRICS_NAMESPACE",
			"LABEL_STUDIO_URL", "LABEL_STUDIO_TOKEN_SECRET", "SYNC_QUEUE_URL", "EXPORT_QUEUE_URL", "FILES_BASE_URL", "AWS_ENDPOINT_URL", "DATABRICKS_ALLOW_PRIVATE_HOSTS", "AZURE_AUTHORITY_HOST"},
		"ExportWriterFunction": {"TABLE_NAME", "SECRET_NAME_PREFIX", "DATABRICKS_ALLOWED_HOST_SUFFIXES", "LABEL_STUDIO_URL", "LABEL_STUDIO_TOKEN_SECRET",
			"EXPORT_QUEUE_URL", "AWS_ENDPOINT_URL", "DATABRICKS_ALLOW_PRIVATE_HOSTS", "AZURE_AUTHORITY_HOST"},
		"SyncWorkerFunction": {"TABLE_NAME", "SECRET_NAME_PREFIX", "DATABRICKS_ALLOWED_HOST_SUFFIXES", "LABEL_STUDIO_URL", "LABEL_STUDIO_TOKEN_SECRET",
			"SYNC_QUEUE_URL", "FILES_BASE_URL", "AWS_ENDPOINT_URL", "DATABRICKS_ALLOW_PRIVATE_HOSTS", "AZURE_AUTHORITY_HOST"},
		"SweepFunction": {"TABLE_NAME", "SECRET_NAME_PREFIX", "SWEEP_GRACE_MINUTES", "METRICS_NAMESPACE", "AWS_ENDPOINT_URL"},
		"FilesFunction": {"TABLE_NAME", "SECRET_NAME_PREFIX", "DATABRICKS_ALLOWED_HOST_SUFFIXES", "LABEL_STUDIO_URL",
			"LABEL_STUDIO_TOKEN_SECRET", "AWS_ENDPOINT_URL", "DATABRICKS_ALLOW_PRIVATE_HOSTS", "AZURE_AUTHORITY_HOST"},
	} {
		vars := tpl.get("Resources", fn, "Properties", "Environment", "Variables")
		var got []string
		for i := 0; vars.Node != nil && i < len(vars.Content); i += 2 {
			got = append(got, vars.Content[i].Value)
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s sets %v, want %v", fn, got, want)
		}
	}
}

// The sync queue's redrive policy gives up after core.SyncMaxReceives
// receives, the count on whose last receive the worker fails the sync; its
// visibility timeout outlasts the worker's timeout and a step's lease.
func TestTemplateSyncQueue(t *testing.T) {
	tpl := loadTemplate(t)
	q := tpl.get("Resources", "SyncQueue", "Properties")
	if got := q.get("RedrivePolicy", "maxReceiveCount").Value; got != strconv.Itoa(core.SyncMaxReceives) {
		t.Errorf("SyncQueue maxReceiveCount %s, want core.SyncMaxReceives %d", got, core.SyncMaxReceives)
	}
	vis, _ := strconv.Atoi(q.get("VisibilityTimeout").Value)
	timeout, _ := strconv.Atoi(tpl.get("Resources", "SyncWorkerFunction", "Properties", "Timeout").Value)
	if vis <= timeout || time.Duration(vis)*time.Second <= core.DefaultSyncLease {
		t.Errorf("SyncQueue visibility %d s, want above the worker's timeout %d s and the lease %s", vis, timeout, core.DefaultSyncLease)
	}
	if time.Duration(timeout)*time.Second >= core.DefaultSyncLease {
		t.Errorf("the worker's timeout %d s must be shorter than a step's lease %s", timeout, core.DefaultSyncLease)
	}
}

// localOnly are the variables only local runs set (sam local --env-vars
// events/env.local.json): each points the function at something a
// deployment must never use (an emulator instead of AWS, loopback or private
// workspaces, another token authority).
var localOnly = []string{"AWS_ENDPOINT_URL", "DATABRICKS_ALLOW_PRIVATE_HOSTS", "AZURE_AUTHORITY_HOST", "SSL_CERT_FILE", "SSL_CERT_DIR"}

// TestTemplateLocalSwitchesAreOffWhenDeployed: the local switches are
// declared only as literal empty strings (off), never through a parameter,
// a condition or Globals, so no deployment's parameters can turn one on; and
// the committed env.local.json sets only variables the template declares
// (sam local drops the others silently).
func TestTemplateLocalSwitchesAreOffWhenDeployed(t *testing.T) {
	tpl := loadTemplate(t)
	if g := tpl.get("Globals", "Function", "Environment"); g.Node != nil {
		t.Errorf("Globals sets an environment; the local switches must be checked there too")
	}
	declared := map[string]bool{}
	for _, fn := range []string{"CreateStorageFunction", "ManageStorageFunction", "SweepFunction", "FilesFunction"} {
		vars := tpl.get("Resources", fn, "Properties", "Environment", "Variables")
		for i := 0; vars.Node != nil && i+1 < len(vars.Content); i += 2 {
			name, value := vars.Content[i].Value, vars.Content[i+1]
			declared[name] = true
			if !slices.Contains(localOnly, name) {
				continue
			}
			if value.Kind != yaml.ScalarNode || value.Tag != "!!str" || value.Value != "" {
				t.Errorf("%s: %s is %s %q, want a literal empty string (off)", fn, name, value.Tag, value.Value)
			}
		}
	}
	raw, err := os.ReadFile("../../events/env.local.json")
	if err != nil {
		t.Fatal(err)
	}
	var local map[string]map[string]string
	if err := json.Unmarshal(raw, &local); err != nil {
		t.Fatal(err)
	}
	for scope, vars := range local {
		for name := range vars {
			if !declared[name] {
				t.Errorf("env.local.json %s sets %s, which no function declares: sam local would drop it", scope, name)
			}
		}
	}
	if local["Parameters"]["DATABRICKS_ALLOW_PRIVATE_HOSTS"] != "true" || local["Parameters"]["AWS_ENDPOINT_URL"] == "" {
		t.Errorf("env.local.json does not point the functions at the local environment: %v", local)
	}
}

// Operating the stack: every function traces, and the alarms the service
// needs exist and notify the optional topic.
func TestTemplateAlarmsAndTracing(t *testing.T) {
	tpl := loadTemplate(t)
	for _, fn := range []string{"CreateStorageFunction", "ManageStorageFunction", "SweepFunction", "FilesFunction"} {
		if got := tpl.get("Resources", fn, "Properties", "Tracing").Value; got != "Active" {
			t.Errorf("%s Tracing = %q, want Active", fn, got)
		}
	}
	want := map[string]string{ // alarm → the metric it watches
		"ProvisioningDeadLetterAlarm":       "ApproximateNumberOfMessagesVisible",
		"ProvisioningEventsDeadLetterAlarm": "ApproximateNumberOfMessagesVisible",
		"CreateStorageFunctionErrorsAlarm":  "Errors", "CreateStorageFunctionThrottlesAlarm": "Throttles",
		"ManageStorageFunctionErrorsAlarm": "Errors", "ManageStorageFunctionThrottlesAlarm": "Throttles",
		"SweepFunctionErrorsAlarm": "Errors", "SweepFunctionThrottlesAlarm": "Throttles",
		"HttpApi5xxAlarm":              "5xx",
		"SweepDeletedSecretsAlarm":     "SecretsDeleted",
		"ConnectionCheckFailuresAlarm": "ConnectionCheckFailures",
	}
	for name, metric := range want {
		props := tpl.get("Resources", name, "Properties")
		if props.Node == nil {
			t.Errorf("alarm %s is missing", name)
			continue
		}
		if got := props.get("MetricName").Value; got != metric {
			t.Errorf("%s watches %q, want %q", name, got, metric)
		}
		if actions := props.get("AlarmActions"); actions.Tag != "!If" || !slices.Contains(actions.strings(), "HasAlarmTopic") {
			t.Errorf("%s does not notify the optional AlarmTopicArn", name)
		}
	}
}

// The HTTP API routes every route and method of the handler's table
// (httpapi.Routes, which the OpenAPI test holds the document to) to the
// function that serves it: creates to the create function, everything
// else — HEAD wherever GET — to the manage function. Only the slash-less
// path is declared (HTTP API matches both spellings to it).
func TestTemplateRoutesEveryMethodOfTheHandler(t *testing.T) {
	tpl := loadTemplate(t)
	declared := map[string]string{} // "METHOD path" → function
	for _, fn := range []string{"CreateStorageFunction", "ManageStorageFunction"} {
		events := tpl.get("Resources", fn, "Properties", "Events")
		for i := 0; i+1 < len(events.Content); i += 2 {
			ev := node{events.Content[i+1]}
			if ev.get("Type").Value != "HttpApi" {
				continue
			}
			key := ev.get("Properties", "Method").Value + " " + ev.get("Properties", "Path").Value
			if other, dup := declared[key]; dup {
				t.Errorf("%s is routed to both %s and %s", key, other, fn)
			}
			declared[key] = fn
		}
	}
	for _, r := range httpapi.Routes() {
		path := strings.TrimSuffix(r.Path, "/")
		for _, m := range r.Methods {
			want := "ManageStorageFunction"
			if m == http.MethodPost && (path == httpapi.BasePath || path == httpapi.ExportBasePath) {
				want = "CreateStorageFunction"
			}
			if got := declared[m+" "+path]; got != want {
				t.Errorf("%s %s is routed to %q, want %s", m, path, got, want)
			}
		}
	}
}

// likeGlob reports whether s matches an IAM StringLike pattern ("*" any
// run of characters; no other wildcard is used here).
func likeGlob(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for i, p := range parts[1:] {
		if i == len(parts)-2 {
			return strings.HasSuffix(s, p)
		}
		at := strings.Index(s, p)
		if at < 0 {
			return false
		}
		s = s[at+len(p):]
	}
	return s == ""
}

// allows reports whether some statement of the role allows action on the
// table item whose partition key is pk, or on the secret named name (one
// of the two given).
func allows(statements map[string]node, action, pk, name string) bool {
	const secretARN = "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:${SecretNamePrefix}"
	for _, s := range statements {
		if !slices.Contains(s.get("Action").strings(), action) {
			continue
		}
		if pk != "" {
			keys := s.get("Condition", "ForAllValues:StringLike", "dynamodb:LeadingKeys").strings()
			if slices.ContainsFunc(keys, func(k string) bool { return likeGlob(k, pk) }) {
				return true
			}
			continue
		}
		// Secrets Manager adds "-" and six random characters to the name.
		if slices.ContainsFunc(s.get("Resource").strings(), func(r string) bool { return likeGlob(r, secretARN+name+"-AbCdEf") }) {
			return true
		}
	}
	return false
}

// The create and manage roles reach the items and secrets of both kinds
// of storage, under the keys and names the stores use (an export storage
// failed with AccessDenied before the roles named them).
func TestTemplateRolesReachBothKindsOfStorage(t *testing.T) {
	tpl := loadTemplate(t)
	create := statements(t, tpl, "CreateStorageFunctionRole")
	manage := statements(t, tpl, "ManageStorageFunctionRole")
	for _, kind := range []storage.Kind{storage.KindImport, storage.KindExport} {
		record, counter := dynamostore.RecordKey(kind, 7), dynamostore.CounterKey(kind)
		key := dynamostore.IdempotencyKey(kind, "scope:key")
		secret := secretstore.KindName("", kind, 7)
		for _, tc := range []struct {
			role       string
			statements map[string]node
			action     string
			pk, name   string
		}{
			{"create", create, "dynamodb:PutItem", record, ""},
			{"create", create, "dynamodb:DeleteItem", record, ""},
			{"create", create, "dynamodb:GetItem", record, ""},
			{"create", create, "dynamodb:UpdateItem", counter, ""},
			{"create", create, "dynamodb:PutItem", key, ""},
			{"create", create, "dynamodb:GetItem", key, ""},
			{"create", create, "secretsmanager:CreateSecret", "", secret},
			{"create", create, "secretsmanager:DeleteSecret", "", secret},
			{"manage", manage, "dynamodb:GetItem", record, ""},
			{"manage", manage, "dynamodb:PutItem", record, ""},
			{"manage", manage, "dynamodb:DeleteItem", record, ""},
			{"manage", manage, "secretsmanager:GetSecretValue", "", secret},
			{"manage", manage, "secretsmanager:PutSecretValue", "", secret},
			{"manage", manage, "secretsmanager:DeleteSecret", "", secret},
		} {
			if !allows(tc.statements, tc.action, tc.pk, tc.name) {
				t.Errorf("the %s role may not %s %s%s (%s storage)", tc.role, tc.action, tc.pk, tc.name, kind)
			}
		}
	}
}
