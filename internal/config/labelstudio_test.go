package config_test

import (
	"strings"
	"testing"

	"github.com/lsdbx/databricks-storage/internal/config"
)

// LABEL_STUDIO_URL picks Label Studio mode, which needs the credential's
// secret; a bad URL is refused without being echoed (it may hold a
// password).
func TestConfigLabelStudio(t *testing.T) {
	for _, c := range []struct {
		name, url, secret string
		wantErr           string
		enabled           bool
	}{
		{"standalone", "", "", "", false},
		{"label studio", "https://ls.example.com/", "arn:aws:secretsmanager:eu-west-1:123456789012:secret:ls-AbCdEf", "", true},
		{"no secret", "https://ls.example.com", "", "LABEL_STUDIO_TOKEN_SECRET is required", true},
		{"credentials in the URL", "https://admin:hunter2@ls.example.com", "s", "LABEL_STUDIO_URL must be", true},
		{"not a URL", "ls.example.com", "s", "LABEL_STUDIO_URL must be", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			env := map[string]string{"TABLE_NAME": "t", "LABEL_STUDIO_URL": c.url, "LABEL_STUDIO_TOKEN_SECRET": c.secret}
			cfg, err := config.FromEnv(func(k string) string { return env[k] })
			if c.wantErr == "" && err != nil || c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)) {
				t.Fatalf("err = %v, want %q", err, c.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "hunter2") {
				t.Errorf("the error shows the URL's password: %v", err)
			}
			if cfg.LabelStudio.Enabled() != c.enabled {
				t.Errorf("enabled = %v", cfg.LabelStudio.Enabled())
			}
			if c.name == "label studio" && cfg.LabelStudio.URL != "https://ls.example.com" {
				t.Errorf("URL = %q, want it without the trailing slash", cfg.LabelStudio.URL)
			}
			if c.name == "label studio" && cfg.LabelStudio.Origin() != "https://ls.example.com" {
				t.Errorf("Origin() = %q", cfg.LabelStudio.Origin())
			}
		})
	}
}
