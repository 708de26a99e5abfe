// Package httpapi serves the storage API over HTTP: routing, content
// negotiation, body limits, authentication, and Label Studio's response and
// error formats. It is a plain net/http handler: the local server serves it
// directly, and in Lambda package eventsource turns API Gateway events into
// requests for it. Every operation is a call of package core.
package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lsdbx/databricks-storage/internal/apierror"
	"github.com/lsdbx/databricks-storage/internal/auth"
	"github.com/lsdbx/databricks-storage/internal/core"
	"github.com/lsdbx/databricks-storage/internal/metrics"
	"github.com/lsdbx/databricks-storage/internal/storage"
	"github.com/lsdbx/databricks-storage/openapi"
)

// Creator is what the create function's API does (a core.Creator).
type Creator interface {
	Create(ctx context.Context, caller core.Caller, req storage.Request, key string) (core.Created, error)
}

// Manager is what the manage function's API does (a core.Manager): every
// route but the create.
type Manager interface {
	Validate(ctx context.Context, caller core.Caller, req storage.Request) error
	ValidateExisting(ctx context.Context, caller core.Caller, id int64, changes storage.Update) error
	Get(ctx context.Context, caller core.Caller, id int64) (storage.Storage, error)
	List(ctx context.Context, caller core.Caller, project int64, ordering string) ([]storage.Storage, error)
	Update(ctx context.Context, caller core.Caller, id int64, changes storage.Update) (storage.Storage, error)
	Delete(ctx context.Context, caller core.Caller, id int64) error
	PreviewFiles(ctx context.Context, caller core.Caller, req storage.Request, limit int) (storage.FileListing, error)
	PreviewStoredFiles(ctx context.Context, caller core.Caller, id int64, changes storage.Update, limit int) (storage.FileListing, error)
	RotateFileKey(ctx context.Context, caller core.Caller, id int64) error
	Sync(ctx context.Context, caller core.Caller, id int64) (storage.Storage, error)
}

// WebhookAcceptor takes an export storage's webhook deliveries (a
// core.Exporter).
type WebhookAcceptor interface {
	AcceptWebhook(ctx context.Context, id int64, secret string, ev core.AnnotationEvent) (int, error)
}

// Header names of the idempotency protocol (as Stripe and the IETF draft
// name them).
const (
	HeaderIdempotencyKey = "Idempotency-Key"
	HeaderReplayed       = "Idempotent-Replayed"
	maxIdempotencyKey    = 255
)

// Authenticator resolves an Authorization header to the caller.
type Authenticator interface {
	Authenticate(ctx context.Context, authorization string) (core.Principal, error)
}

// errNoAuthenticator is logged when a Handler has no Auth.
var errNoAuthenticator = errors.New("the handler has no authenticator")

// Handler answers storage API requests. It implements http.Handler.
type Handler struct {
	// Creator serves the create; nil in the manage function, which then
	// refuses it (421) with where to send it.
	Creator Creator
	// Manager serves every other route; nil in the create function, which
	// then refuses them (421) with where to send them. API Gateway routes
	// none there; the refusal keeps a misrouted request from doing anything.
	Manager Manager
	// Auth authenticates every request. Without one every request is
	// refused (503): a handler that is not wired to an authenticator must
	// fail closed, never let everyone in.
	Auth    Authenticator
	Decoder storage.Decoder
	// ExportCreator, ExportManager and ExportDecoder are Creator, Manager
	// and Decoder for the export storages' routes (ExportBasePath): the
	// same core, wired to the export storages' records and secrets. A nil
	// one refuses its routes as Creator and Manager do.
	ExportCreator Creator
	ExportManager Manager
	ExportDecoder storage.Decoder
	// Webhooks takes the export storages' webhook deliveries
	// (…/export/databricks/{id}/webhook, authenticated by the storage's
	// webhook secret, not a token); nil refuses them as a nil Manager does.
	Webhooks WebhookAcceptor
	// OpenAPI is the OpenAPI document the handler serves (openapi.Document,
	// given by the manage function, which the template routes it to); nil
	// refuses the route as another function's (421), and leaves the
	// document out of the create function.
	OpenAPI []byte
	// Version is reported in every error body.
	Version string
	// MetricsNamespace is the CloudWatch namespace of the metrics each
	// summary line carries (Embedded Metric Format); none when empty.
	MetricsNamespace string
	// Logger receives one summary line per request; its context's request
	// and trace ids are added by a logging.New logger.
	Logger *slog.Logger
}

type route int

const (
	routeNone route = iota
	routeCollection
	routeValidate
	routeFiles
	routeItem
	routeOpenAPI
	routeFileKey
	routeSync
	routeWebhook
)

// methods are the methods each route answers, in its Allow header's order.
// HEAD is answered wherever GET is, as GET without the body (Django's
// views do the same, and list it after the others).
var methods = map[route][]string{
	routeCollection: {http.MethodGet, http.MethodPost, http.MethodHead},
	routeValidate:   {http.MethodPost},
	routeFiles:      {http.MethodPost},
	routeItem:       {http.MethodGet, http.MethodPatch, http.MethodPut, http.MethodDelete, http.MethodHead},
	routeOpenAPI:    {http.MethodGet, http.MethodHead},
	routeFileKey:    {http.MethodPost},
	routeSync:       {http.MethodPost},
	routeWebhook:    {http.MethodPost},
}

// OpenAPIPath serves the API's OpenAPI document (package openapi), without
// authentication.
const OpenAPIPath = "/api/storages/databricks-openapi.yaml"

// exportPaths are the export storages' routes, a subset of the import
// storages': the files preview and file links belong to imported files.
var exportPaths = map[route]string{
	routeCollection: ExportBasePath + "/",
	routeValidate:   ExportBasePath + "/validate",
	routeItem:       ExportBasePath + "/{id}",
	routeSync:       ExportBasePath + "/{id}/sync",
	routeWebhook:    ExportBasePath + "/{id}/webhook",
}

// ExportWebhookURL is where Label Studio sends the webhook deliveries of
// export storage id, under the service's public base URL.
func ExportWebhookURL(base string, id int64) string {
	return strings.TrimSuffix(base, "/") + ExportBasePath + "/" + strconv.FormatInt(id, 10) + "/webhook"
}

// paths are the routes' paths as the OpenAPI document writes them.
var paths = map[route]string{
	routeCollection: BasePath + "/",
	routeValidate:   BasePath + "/validate",
	routeFiles:      BasePath + "/files",
	routeItem:       BasePath + "/{id}",
	routeOpenAPI:    OpenAPIPath,
	routeFileKey:    BasePath + "/{id}/file-key",
	routeSync:       BasePath + "/{id}/sync",
}

// Route is a path the handler serves, written as in the OpenAPI document
// ({id} for an item's id), and the methods it answers there.
type Route struct {
	Path    string
	Methods []string
}

// Routes lists every route and its methods: the table the handler answers
// 405 from. TestOpenAPIDocumentsEveryRoute holds the OpenAPI document to it.
func Routes() []Route {
	out := make([]Route, 0, len(methods)+len(exportPaths))
	for rt, ms := range methods {
		if path, ok := paths[rt]; ok {
			out = append(out, Route{Path: path, Methods: slices.Clone(ms)})
		}
		if path, ok := exportPaths[rt]; ok {
			out = append(out, Route{Path: path, Methods: slices.Clone(ms)})
		}
	}
	slices.SortFunc(out, func(a, b Route) int { return strings.Compare(a.Path, b.Path) })
	return out
}

// BasePath is where the import storage API lives, ExportBasePath the
// export storage API (Label Studio's paths).
const (
	BasePath       = "/api/storages/databricks"
	ExportBasePath = "/api/storages/export/databricks"
)

// match routes a path, with or without its trailing slash, and says which
// kind of storage it is about. An item's id is a positive integer, as
// Django's <int:pk>; anything else is not found.
func match(path string) (route, int64, storage.Kind) {
	trimmed := strings.TrimSuffix(path, "/")
	if trimmed == OpenAPIPath {
		return routeOpenAPI, 0, storage.KindImport
	}
	if rest, ok := strings.CutPrefix(trimmed, ExportBasePath); ok {
		rt, id := matchRest(rest)
		if _, served := exportPaths[rt]; !served {
			return routeNone, 0, storage.KindExport
		}
		return rt, id, storage.KindExport
	}
	rest, ok := strings.CutPrefix(trimmed, BasePath)
	if !ok {
		return routeNone, 0, storage.KindImport
	}
	rt, id := matchRest(rest)
	if _, served := paths[rt]; !served {
		return routeNone, 0, storage.KindImport
	}
	return rt, id, storage.KindImport
}

// matchRest routes the part of a path after the base path.
func matchRest(rest string) (route, int64) {
	switch {
	case rest == "":
		return routeCollection, 0
	case rest == "/validate":
		return routeValidate, 0
	case rest == "/files":
		return routeFiles, 0
	}
	rt := routeItem
	if r, ok := strings.CutSuffix(rest, "/file-key"); ok {
		rest, rt = r, routeFileKey
	} else if r, ok := strings.CutSuffix(rest, "/sync"); ok {
		rest, rt = r, routeSync
	} else if r, ok := strings.CutSuffix(rest, "/webhook"); ok {
		rest, rt = r, routeWebhook
	}
	id, err := strconv.ParseInt(strings.TrimPrefix(rest, "/"), 10, 64)
	if !strings.HasPrefix(rest, "/") || err != nil || id < 1 || strings.ContainsAny(rest[1:], "+-") {
		return routeNone, 0
	}
	return rt, id
}

// operation names what a request does, for the summary log line.
func operation(rt route, method string) string {
	if method == http.MethodHead {
		method = http.MethodGet
	}
	switch {
	case rt == routeCollection && method == http.MethodPost:
		return "create"
	case rt == routeCollection:
		return "list"
	case rt == routeValidate:
		return "validate"
	case rt == routeFiles:
		return "files"
	case rt == routeItem && method == http.MethodGet:
		return "get"
	case rt == routeItem && method == http.MethodDelete:
		return "delete"
	case rt == routeItem:
		return "update"
	case rt == routeOpenAPI:
		return "openapi"
	case rt == routeFileKey:
		return "rotate_file_key"
	case rt == routeSync:
		return "sync"
	case rt == routeWebhook:
		return "webhook"
	}
	return "none"
}

// outcome is what one request produced, for the summary log line.
type outcome struct {
	// operation is the route's operation ("create", "get" …), kind the
	// kind of storage it is about (logged as "export_create" …).
	operation string
	kind      storage.Kind
	status    int
	storageID int64
	tokenID   string
	err       error
}

// ServeHTTP answers one request and logs one summary line for it.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	ctx, _ := metrics.Start(r.Context())
	r = r.WithContext(ctx)
	out := outcome{operation: "none"}
	h.serve(w, r, &out)
	if out.kind == storage.KindExport && out.operation != "none" {
		out.operation = "export_" + out.operation
	}
	attrs := []slog.Attr{
		slog.String("method", r.Method),
		slog.String("route", out.operation),
		slog.Int("status", out.status),
		slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
	}
	if out.tokenID != "" {
		attrs = append(attrs, slog.String("token_id", out.tokenID))
	}
	if out.storageID != 0 {
		attrs = append(attrs, slog.Int64("storage_id", out.storageID))
	}
	level := slog.LevelInfo
	if out.err != nil {
		attrs = append(attrs, slog.String("error", out.err.Error()))
		if out.status >= 500 {
			level = slog.LevelError
		}
	}
	attrs = append(attrs, metrics.RequestAttrs(ctx, h.MetricsNamespace, out.operation, out.status, time.Since(start))...)
	h.logger().LogAttrs(ctx, level, "request", attrs...)
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request, out *outcome) {
	ctx := r.Context()
	if r.Method == http.MethodHead {
		// Whatever the answer, errors included: its status and headers
		// without its body.
		w = headResponse{w}
	}
	rt, id, kind := match(r.URL.Path)
	side := h.sideOf(kind)
	if rt == routeNone {
		h.fail(w, out, http.StatusNotFound, "Not found.", nil)
		return
	}
	out.operation = operation(rt, r.Method)
	out.kind = kind
	out.storageID = id
	if rt == routeOpenAPI {
		h.document(w, r, out)
		return
	}
	if rt == routeWebhook {
		// Label Studio sends no token: the storage's secret header is
		// the delivery's credential.
		h.webhook(w, r, id, out)
		return
	}
	if h.Auth == nil {
		out.err = errNoAuthenticator
		h.fail(w, out, http.StatusServiceUnavailable, "Authentication is unavailable right now; retry later.", nil)
		return
	}
	p, err := h.Auth.Authenticate(ctx, r.Header.Get("Authorization"))
	out.err = err
	switch {
	case errors.Is(err, auth.ErrNoCredentials):
		h.unauthorized(w, out, "Authentication credentials were not provided.")
		return
	case errors.Is(err, auth.ErrInvalidToken):
		h.unauthorized(w, out, "Invalid token.")
		return
	case err != nil:
		h.fail(w, out, http.StatusServiceUnavailable, "Authentication is unavailable right now; retry later.", nil)
		return
	}
	caller := core.TokenHolder(p)
	out.tokenID = p.TokenID
	if !slices.Contains(methods[rt], r.Method) {
		out.operation = "none"
		w.Header().Set("Allow", strings.Join(methods[rt], ", "))
		h.fail(w, out, http.StatusMethodNotAllowed, fmt.Sprintf("Method %q not allowed.", r.Method), nil)
		return
	}
	if wrong := side.wrongFunction(out.operation); wrong != nil {
		h.failFor(w, out, wrong)
		return
	}
	switch out.operation {
	case "list":
		h.list(w, r, side, caller, out)
		return
	case "get":
		got, err := side.manager.Get(ctx, caller, id)
		h.respond(w, out, http.StatusOK, got, err)
		return
	case "delete":
		if err := side.manager.Delete(ctx, caller, id); err != nil {
			h.failFor(w, out, err)
			return
		}
		out.status = http.StatusNoContent
		w.WriteHeader(http.StatusNoContent)
		return
	case "sync":
		// Label Studio's sync takes no body (the SDK sends none).
		queued, err := side.manager.Sync(ctx, caller, id)
		h.respond(w, out, http.StatusOK, queued, err)
		return
	case "rotate_file_key":
		// No body: every file link of the storage stops working.
		if err := side.manager.RotateFileKey(ctx, caller, id); err != nil {
			h.failFor(w, out, err)
			return
		}
		out.status = http.StatusNoContent
		w.WriteHeader(http.StatusNoContent)
		return
	}
	// The rest carry a JSON body.
	if ct := r.Header.Get("Content-Type"); !isJSON(ct) {
		h.fail(w, out, http.StatusUnsupportedMediaType, fmt.Sprintf("Unsupported media type %q in request. Send the body as application/json.", truncate(ct, 100)), nil)
		return
	}
	body, err := readBody(r)
	if err == nil {
		// Every body, whichever decoder reads it: text Label Studio's
		// parser reads, nested no deeper than its clients read back.
		err = storage.CheckJSON(body)
	}
	if err != nil {
		h.failFor(w, out, err)
		return
	}
	switch out.operation {
	case "create":
		if kind == storage.KindExport {
			r = withRequestBase(r)
		}
		h.create(w, r, side, caller, body, out)
	case "update":
		changes, err := side.decoder.DecodeUpdate(body)
		if err != nil {
			h.failFor(w, out, err)
			return
		}
		updated, err := side.manager.Update(ctx, caller, id, changes)
		h.respond(w, out, http.StatusOK, updated, err)
	case "validate":
		h.validate(w, r, side, caller, body, out)
	case "files":
		h.files(w, r, side, caller, body, out)
	}
}

// side is what serves the routes of one kind of storage.
type side struct {
	creator Creator
	manager Manager
	decoder storage.Decoder
}

// sideOf returns what serves the routes of kind k. The export decoder
// reads export bodies whatever ExportDecoder's Kind says.
func (h *Handler) sideOf(k storage.Kind) side {
	if k == storage.KindExport {
		d := h.ExportDecoder
		d.Kind = storage.KindExport
		return side{creator: h.ExportCreator, manager: h.ExportManager, decoder: d}
	}
	return side{creator: h.Creator, manager: h.Manager, decoder: h.Decoder}
}

// wrongFunction returns the error of an operation this handler's function
// does not perform, nil when it does.
func (s side) wrongFunction(operation string) error {
	switch {
	case operation == "create" && s.creator == nil:
		return &core.WrongFunctionError{Operation: operation, Creates: true}
	case operation != "create" && s.manager == nil:
		return &core.WrongFunctionError{Operation: operation}
	}
	return nil
}

// document serves the OpenAPI document, to anyone.
func (h *Handler) document(w http.ResponseWriter, r *http.Request, out *outcome) {
	if !slices.Contains(methods[routeOpenAPI], r.Method) {
		out.operation = "none"
		w.Header().Set("Allow", strings.Join(methods[routeOpenAPI], ", "))
		h.fail(w, out, http.StatusMethodNotAllowed, fmt.Sprintf("Method %q not allowed.", r.Method), nil)
		return
	}
	if len(h.OpenAPI) == 0 {
		h.failFor(w, out, &core.WrongFunctionError{Operation: "openapi"})
		return
	}
	out.status = http.StatusOK
	w.Header().Set("Content-Type", openapi.ContentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(h.OpenAPI)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(h.OpenAPI)
}

// headResponse answers a HEAD request as Django does: the status and
// headers of the GET answer, Content-Length included (set by whoever writes
// a body), and no body.
type headResponse struct{ http.ResponseWriter }

func (headResponse) Write(p []byte) (int, error) { return len(p), nil }

func (h *Handler) create(w http.ResponseWriter, r *http.Request, side side, caller core.Caller, body []byte, out *outcome) {
	key := r.Header.Get(HeaderIdempotencyKey)
	if key != "" && !validKey(key) {
		h.fail(w, out, http.StatusBadRequest, fmt.Sprintf("The %s header must be 1 to %d printable ASCII characters.", HeaderIdempotencyKey, maxIdempotencyKey), nil)
		return
	}
	req, err := side.decoder.DecodeRequest(body)
	if err != nil {
		h.failFor(w, out, err)
		return
	}
	created, err := side.creator.Create(r.Context(), caller, req, key)
	if err == nil && created.Replayed {
		w.Header().Set(HeaderReplayed, "true")
		metrics.Replayed(r.Context())
	}
	h.respond(w, out, http.StatusCreated, created.Storage, err)
}

func (h *Handler) validate(w http.ResponseWriter, r *http.Request, side side, caller core.Caller, body []byte, out *outcome) {
	probe, err := side.decoder.DecodeProbe(body, 0)
	if err == nil {
		out.storageID = probe.ID
		if probe.ID != 0 {
			err = side.manager.ValidateExisting(r.Context(), caller, probe.ID, probe.Changes)
		} else {
			err = side.manager.Validate(r.Context(), caller, probe.Request)
		}
	}
	if err != nil {
		h.failFor(w, out, err)
		return
	}
	out.status = http.StatusOK
	writeJSON(w, http.StatusOK, []byte("{}"))
}

// previewEntry is one entry of the files preview; Label Studio marks an
// early stop with an entry whose fields are null, or whose key says why.
type previewEntry struct {
	Key          *string    `json:"key"`
	LastModified *time.Time `json:"last_modified"`
	Size         *int64     `json:"size"`
}

// scanTimedOut is the key of the entry that says the listing ran out of time.
const scanTimedOut = "... storage scan timed out, the preview shows only part of the files ..."

func (h *Handler) files(w http.ResponseWriter, r *http.Request, side side, caller core.Caller, body []byte, out *outcome) {
	probe, err := side.decoder.DecodeProbe(body, core.MaxPreviewLimit)
	if err != nil {
		h.failFor(w, out, err)
		return
	}
	limit := core.DefaultPreviewLimit
	if probe.Limit != 0 {
		limit = int(probe.Limit)
	}
	out.storageID = probe.ID
	var listing storage.FileListing
	if probe.ID != 0 {
		listing, err = side.manager.PreviewStoredFiles(r.Context(), caller, probe.ID, probe.Changes, limit)
	} else {
		listing, err = side.manager.PreviewFiles(r.Context(), caller, probe.Request, limit)
	}
	if err != nil {
		h.failFor(w, out, err)
		return
	}
	entries := make([]previewEntry, 0, len(listing.Files)+1)
	for _, f := range listing.Files {
		entries = append(entries, previewEntry{Key: &f.Key, LastModified: f.LastModified, Size: f.Size})
	}
	switch {
	case listing.TimedOut:
		key := scanTimedOut
		entries = append(entries, previewEntry{Key: &key})
	case listing.LimitReached:
		entries = append(entries, previewEntry{})
	}
	h.respond(w, out, http.StatusOK, map[string]any{"files": entries}, nil)
}

func (h *Handler) list(w http.ResponseWriter, r *http.Request, side side, caller core.Caller, out *outcome) {
	query := r.URL.Query()
	raw := strings.TrimSpace(query.Get("project"))
	if raw == "" {
		h.failFor(w, out, &storage.ValidationError{Fields: map[string][]string{"non_field_errors": {`query parameter "project" is required`}}})
		return
	}
	project, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || project < 1 {
		h.failFor(w, out, &storage.ValidationError{Fields: map[string][]string{"non_field_errors": {`query parameter "project" must be a project id`}}})
		return
	}
	storages, err := side.manager.List(r.Context(), caller, project, query.Get("ordering"))
	if storages == nil {
		storages = []storage.Storage{}
	}
	h.respond(w, out, http.StatusOK, storages, err)
}

// respond answers with v as JSON, or with the error.
func (h *Handler) respond(w http.ResponseWriter, out *outcome, status int, v any, err error) {
	if err != nil {
		h.failFor(w, out, err)
		return
	}
	rendered, err := json.Marshal(v)
	if err != nil {
		out.err = err
		h.fail(w, out, http.StatusInternalServerError, "The answer could not be rendered.", nil)
		return
	}
	if s, ok := v.(storage.Storage); ok {
		out.storageID = s.ID
	}
	out.status = status
	writeJSON(w, status, rendered)
}

// readBody reads at most one byte more than the limit, so that a larger
// body is refused without being read whole.
func readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, storage.MaxRequestBytes+1))
	if errors.Is(err, storage.ErrMalformed) {
		return nil, err // the transport's own account (an undecodable base64 body)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: the body could not be read", storage.ErrMalformed)
	}
	if len(body) > storage.MaxRequestBytes {
		return nil, storage.ErrTooLarge
	}
	return body, nil
}

// failFor answers with the Label Studio error of a core or decoding error.
func (h *Handler) failFor(w http.ResponseWriter, out *outcome, err error) {
	out.err = err
	status, detail, fields := apierror.For(err)
	h.fail(w, out, status, detail, fields)
}

func (h *Handler) unauthorized(w http.ResponseWriter, out *outcome, detail string) {
	w.Header().Set("WWW-Authenticate", "Token")
	h.fail(w, out, http.StatusUnauthorized, detail, nil)
}

func (h *Handler) fail(w http.ResponseWriter, out *outcome, status int, detail string, fields map[string][]string) {
	out.status = status
	writeJSON(w, status, apierror.New(status, h.Version, detail, fields).JSON())
}

// writeJSON answers with a JSON body. Its Content-Length is set here, not
// left to net/http, so that a HEAD answer (headResponse) carries it too and
// the Lambda adapter returns it.
func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func validKey(key string) bool {
	if len(key) > maxIdempotencyKey {
		return false
	}
	for i := 0; i < len(key); i++ {
		if key[i] < 0x20 || key[i] > 0x7e {
			return false
		}
	}
	return true
}

func isJSON(contentType string) bool {
	mediaType, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return mediaType == "application/json" || (strings.HasPrefix(mediaType, "application/") && strings.HasSuffix(mediaType, "+json"))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func (h *Handler) logger() *slog.Logger {
	if h.Logger != nil {
		return h.Logger
	}
	return slog.Default()
}
