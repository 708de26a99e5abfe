package storage

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

const kindBody = `{"project": 1, "host": "https://dbc-a1b2c3d4-e5f6.cloud.databricks.com", "catalog": "main", "schema": "default", "volume": "v", "token": "t"`

// Each kind reads its own fields and ignores the other kind's, as Django
// REST framework ignores fields its serializer does not declare; the
// request says its kind.
func TestDecodeRequestOfEachKind(t *testing.T) {
	for _, tc := range []struct {
		name    string
		kind    Kind
		extra   string
		problem string // the field refused, if any
		check   func(Request) bool
	}{
		{"export default", KindExport, ``, "", func(r Request) bool { return !r.CanDeleteObjects && r.Kind == KindExport }},
		{"export can_delete_objects", KindExport, `, "can_delete_objects": true`, "", func(r Request) bool { return r.CanDeleteObjects }},
		{"export can_delete_objects as text", KindExport, `, "can_delete_objects": "1"`, "", func(r Request) bool { return r.CanDeleteObjects }},
		{"export bad can_delete_objects", KindExport, `, "can_delete_objects": "perhaps"`, "can_delete_objects", nil},
		{"export null can_delete_objects", KindExport, `, "can_delete_objects": null`, "can_delete_objects", nil},
		{"export ignores import fields", KindExport, `, "presign": "x", "presign_ttl": -5, "recursive_scan": []`, "",
			func(r Request) bool { return !r.Presign && r.PresignTTL == 0 && !r.RecursiveScan }},
		{"export keeps the shared rules", KindExport, `, "request_timeout_s": 99`, "request_timeout_s", nil},
		{"import ignores can_delete_objects", KindImport, `, "can_delete_objects": "perhaps"`, "",
			func(r Request) bool {
				return !r.CanDeleteObjects && r.Kind == KindImport && r.PresignTTL == DefaultPresignTTL
			}},
		{"import keeps its fields", KindImport, `, "presign_ttl": -5`, "presign_ttl", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Decoder{Kind: tc.kind}.DecodeRequest([]byte(kindBody + tc.extra + "}"))
			var v *ValidationError
			switch {
			case tc.problem != "":
				if !errors.As(err, &v) || len(v.Fields) != 1 || v.Fields[tc.problem] == nil {
					t.Fatalf("error %v, want a problem of %s alone", err, tc.problem)
				}
			case err != nil:
				t.Fatal(err)
			case !tc.check(r):
				t.Errorf("request %+v", r.Settings)
			}
		})
	}
}

// An update of an export storage gives can_delete_objects and ignores the
// import storage's fields; an update of an import storage the other way.
func TestUpdateOfEachKind(t *testing.T) {
	stored := Settings{Kind: KindExport, Project: 1, Host: "https://h", Catalog: "c", Schema: "s", Volume: "v", AuthType: AuthPAT}
	for _, tc := range []struct {
		name, body string
		kind       Kind
		cdo        bool
		problem    string
	}{
		{"export sets it", `{"can_delete_objects": true}`, KindExport, true, ""},
		{"export refuses a bad one", `{"can_delete_objects": 3}`, KindExport, false, "can_delete_objects"},
		{"export ignores presign_ttl", `{"presign_ttl": -1, "recursive_scan": "x"}`, KindExport, false, ""},
		{"import ignores it", `{"can_delete_objects": true}`, KindImport, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, err := Decoder{Kind: tc.kind}.DecodeUpdate([]byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			s := stored
			s.Kind = tc.kind
			r, err := u.Apply(s, Secrets{Token: "t"})
			var v *ValidationError
			if tc.problem != "" {
				if !errors.As(err, &v) || v.Fields[tc.problem] == nil {
					t.Fatalf("error %v, want a problem of %s", err, tc.problem)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.CanDeleteObjects != tc.cdo || r.Kind != tc.kind {
				t.Errorf("can_delete_objects %v kind %v, want %v %v", r.CanDeleteObjects, r.Kind, tc.cdo, tc.kind)
			}
		})
	}
}

// An export storage renders the export storage's fields, in the
// serializer's order; an import storage renders as before.
func TestRenderOfEachKind(t *testing.T) {
	s := Storage{ID: 3, Type: StorageType, Settings: Settings{Project: 1, Presign: true, PresignTTL: 1, RecursiveScan: true, CanDeleteObjects: true}}
	imported, _ := json.Marshal(s)
	s.Kind = KindExport
	exported, _ := json.Marshal(s)
	if strings.Contains(string(imported), "can_delete_objects") || !strings.Contains(string(imported), `"presign_ttl":1`) {
		t.Errorf("import storage: %s", imported)
	}
	for _, absent := range []string{"presign", "recursive_scan"} {
		if strings.Contains(string(exported), absent) {
			t.Errorf("export storage renders %s: %s", absent, exported)
		}
	}
	if !strings.Contains(string(exported), `"project":1,"can_delete_objects":true,"host":""`) {
		t.Errorf("export storage: %s", exported)
	}
}
