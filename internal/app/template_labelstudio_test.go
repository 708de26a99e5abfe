package app_test

import (
	"regexp"
	"slices"
	"strings"
	"testing"
)

// labelStudioSecret is the parameter naming the service's Label Studio
// credential; a Ref to it renders as its name.
const labelStudioSecret = "LabelStudioTokenSecretArn"

// Label Studio mode in the template: the URL and the credential's secret
// are parameters, the functions get them (the secret's ARN, never its
// value), and each storage function's role may read that one secret and no
// other with GetSecretValue beyond what it had; the sweep may not.
func TestTemplateLabelStudio(t *testing.T) {
	tpl := loadTemplate(t)
	params := tpl.get("Parameters")
	arn := regexp.MustCompile(params.get(labelStudioSecret, "AllowedPattern").Value)
	for value, ok := range map[string]bool{
		"": true,
		"arn:aws:secretsmanager:eu-west-1:123456789012:secret:label-studio/service-token-AbCdEf": true,
		"label-studio/service-token":                                 true,
		"arn:aws:secretsmanager:eu-west-1:123456789012:secret:*":     false,
		"arn:aws:secretsmanager:eu-west-1:123456789012:secret:a-b*c": false,
	} {
		// A bare name is refused too: IAM needs the ARN.
		if value == "label-studio/service-token" {
			ok = false
		}
		if arn.MatchString(value) != ok {
			t.Errorf("%s pattern accepts %q: %v, want %v", labelStudioSecret, value, !ok, ok)
		}
	}
	url := regexp.MustCompile(params.get("LabelStudioUrl", "AllowedPattern").Value)
	for value, ok := range map[string]bool{"": true, "https://ls.example.com": true, "http://10.0.0.5:8080/ls": true,
		"https://user:pass@ls.example.com": false, "https://ls.example.com/?a=b": false, "ftp://ls": false} {
		if url.MatchString(value) != ok {
			t.Errorf("LabelStudioUrl pattern on %q: %v, want %v", value, !ok, ok)
		}
	}

	for _, fn := range []string{"CreateStorageFunction", "ManageStorageFunction"} {
		vars := tpl.get("Resources", fn, "Properties", "Environment", "Variables")
		if got := vars.get("LABEL_STUDIO_URL").Value; got != "LabelStudioUrl" {
			t.Errorf("%s: LABEL_STUDIO_URL is %q, want !Ref LabelStudioUrl", fn, got)
		}
		if got := vars.get("LABEL_STUDIO_TOKEN_SECRET").Value; got != labelStudioSecret {
			t.Errorf("%s: LABEL_STUDIO_TOKEN_SECRET is %q, want !Ref %s", fn, got, labelStudioSecret)
		}
		role := strings.TrimSuffix(fn, "Function") + "FunctionRole"
		st, ok := statements(t, tpl, role)["ReadLabelStudioCredential"]
		if !ok {
			t.Errorf("%s may not read the Label Studio credential", role)
			continue
		}
		if got := st.get("Action").strings(); !slices.Equal(got, []string{"secretsmanager:GetSecretValue"}) {
			t.Errorf("%s: ReadLabelStudioCredential allows %v, want GetSecretValue only", role, got)
		}
		if got := st.get("Resource").strings(); !slices.Equal(got, []string{labelStudioSecret}) {
			t.Errorf("%s: ReadLabelStudioCredential is on %v, want exactly !Ref %s", role, got, labelStudioSecret)
		}
	}
	for sid, s := range statements(t, tpl, "SweepFunctionRole") {
		if slices.Contains(s.get("Resource").strings(), labelStudioSecret) {
			t.Errorf("the sweep's statement %s names the Label Studio credential", sid)
		}
	}
}

// The front door: one host for Label Studio and this API. The storage
// API's paths go to the HTTP API, the rest to Label Studio, nothing is
// cached and Authorization reaches both; it exists only with an origin.
func TestTemplateFrontDoor(t *testing.T) {
	tpl := loadTemplate(t)
	fd := tpl.get("Resources", "FrontDoor")
	if got := fd.get("Condition").Value; got != "HasFrontDoor" {
		t.Errorf("FrontDoor condition %q, want HasFrontDoor", got)
	}
	if got := tpl.get("Conditions", "HasFrontDoor").strings(); !slices.Contains(got, "LabelStudioOriginDomain") {
		t.Errorf("HasFrontDoor does not depend on LabelStudioOriginDomain: %v", got)
	}
	const cachingDisabled, allViewerExceptHost = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad", "b689b0a8-53d0-40ab-baf2-68738e2966ac"
	cfg := fd.get("Properties", "DistributionConfig")
	behaviours := []node{cfg.get("DefaultCacheBehavior")}
	for _, b := range cfg.get("CacheBehaviors").Content {
		behaviours = append(behaviours, node{b})
	}
	targets := map[string]string{}
	for _, b := range behaviours {
		path := ""
		if p := b.get("PathPattern"); p.Node != nil {
			path = p.Value
		}
		targets[path] = strings.Join(b.get("TargetOriginId").strings(), "")
		if got := append(b.get("CachePolicyId").strings(), b.get("OriginRequestPolicyId").strings()...); !slices.Equal(got, []string{cachingDisabled, allViewerExceptHost}) {
			t.Errorf("behaviour %q caches or drops viewer headers", path)
		}
		want := 7
		if path == "/data/databricks/*" {
			want = 3 // the file route is read-only: GET, HEAD, OPTIONS
		}
		if got := b.get("AllowedMethods").strings(); len(got) != want {
			t.Errorf("behaviour %q allows %v, want %d methods", path, got, want)
		}
	}
	if want := map[string]string{"": "label-studio", "/api/storages/databricks*": "storage-api", "/api/storages/export/databricks*": "storage-api", "/data/databricks/*": "file-proxy"}; !mapsEqual(targets, want) {
		t.Errorf("behaviours %v, want %v", targets, want)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
