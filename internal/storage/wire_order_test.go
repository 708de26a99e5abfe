package storage

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"testing"
	"time"
)

// jsonNames lists the json names of t's fields, embedded structs' fields
// in place.
func jsonNames(t reflect.Type) []string {
	var names []string
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous {
			names = append(names, jsonNames(f.Type)...)
			continue
		}
		if name, _, _ := bytes.Cut([]byte(f.Tag.Get("json")), []byte(",")); len(name) > 0 && string(name) != "-" {
			names = append(names, string(name))
		}
	}
	return names
}

// A new field of Storage (or Settings) must be added to wire too, where
// the serializer's order puts it.
// Each kind's wire has the fields the kind takes.
func TestWireHasEveryStorageFieldInSerializerOrder(t *testing.T) {
	for _, tc := range []struct {
		kind Kind
		wire reflect.Type
	}{
		{KindImport, reflect.TypeFor[wire]()},
		{KindExport, reflect.TypeFor[exportWire]()},
	} {
		got := jsonNames(tc.wire)
		var sorted []string // id first, then the serializer's order
		for _, name := range jsonNames(reflect.TypeFor[Storage]())[1:] {
			if tc.kind.Takes(name) {
				sorted = append(sorted, name)
			}
		}
		SortFieldNames(sorted)
		want := append([]string{"id"}, sorted...)
		if !slices.Equal(got, want) {
			t.Errorf("%s wire's fields %v\nwant %v", tc.kind, got, want)
		}
	}
}

// renderByReordering is the earlier MarshalJSON: encode, decode into a
// map, write the fields back in the serializer's order. wire must render
// exactly as it did.
func renderByReordering(s Storage) ([]byte, error) {
	type plain Storage
	view := struct {
		plain
		CreatedAt string          `json:"created_at"`
		LastSync  *string         `json:"last_sync"`
		Meta      json.RawMessage `json:"meta"`
	}{plain: plain(s), CreatedAt: s.CreatedAt.UTC().Format(layoutMicroseconds), Meta: s.Meta}
	if s.LastSync != nil {
		t := s.LastSync.UTC()
		layout := layoutSeconds
		if t.Nanosecond()/int(time.Microsecond) != 0 {
			layout = layoutMicroseconds
		}
		rendered := t.Format(layout)
		view.LastSync = &rendered
	}
	if len(view.Meta) == 0 {
		view.Meta = json.RawMessage("{}")
	}
	flat, err := json.Marshal(view)
	if err != nil {
		return nil, err
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(flat, &fields); err != nil {
		return nil, err
	}
	names := make([]string, 0, len(fields))
	for name := range fields {
		if name != "id" {
			names = append(names, name)
		}
	}
	SortFieldNames(names)
	var out bytes.Buffer
	out.WriteString(`{"id":`)
	out.Write(fields["id"])
	for _, name := range names {
		out.WriteByte(',')
		key, _ := json.Marshal(name)
		out.Write(key)
		out.WriteByte(':')
		out.Write(fields[name])
	}
	out.WriteByte('}')
	return out.Bytes(), nil
}

func TestStorageRendersAsByReordering(t *testing.T) {
	str := func(s string) *string { return &s }
	n := int64(42)
	created := time.Date(2025, 3, 4, 5, 6, 7, 891011000, time.FixedZone("x", 3600))
	whole, frac := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), time.Date(2025, 1, 2, 3, 4, 5, 600, time.UTC)
	fracMicro := time.Date(2025, 1, 2, 3, 4, 5, 7000, time.UTC)
	for _, s := range []Storage{
		{},
		{ID: 3, Type: StorageType, CreatedAt: created, Settings: Settings{Project: 1, Host: "https://h", Catalog: "c", Schema: "s", Volume: "v", AuthType: AuthPAT}},
		{ID: 9, Type: StorageType, CreatedAt: created, Settings: Settings{
			Project: 7, Host: "https://a<b>&c", Catalog: "ü", Schema: "\u2028", Volume: "v\"q", Prefix: str("p/q"),
			RegexFilter: str(`.*\.jpg$`), AuthType: AuthAzureADSP, ClientID: str("id"), TenantID: str("t"),
			RecursiveScan: true, UseBlobURLs: true, VerifyTLS: true, RequestTimeoutS: 20, StreamChunkBytes: 1 << 20,
			Presign: true, PresignTTL: 5, Synchronizable: true, Status: "completed", Title: str("T<"), Description: str(""),
			LastSync: &whole, LastSyncCount: &n, LastSyncJob: str("j"), Meta: json.RawMessage(`{"a": [1, "<x>"], "b":{}}`), Traceback: str("tb"),
		}},
		{ID: 10, Settings: Settings{LastSync: &frac, Meta: json.RawMessage(`null`)}},
		{ID: 11, Settings: Settings{LastSync: &fracMicro, Meta: json.RawMessage(`"s"`)}},
	} {
		want, err := renderByReordering(s)
		if err != nil {
			t.Fatal(err)
		}
		got, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("storage %d renders\n%s\nwant\n%s", s.ID, got, want)
		}
	}
}
