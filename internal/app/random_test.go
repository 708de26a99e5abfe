//go:build integration

package app_test

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"math/rand"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/lsdbx/databricks-storage/internal/config"
	"github.com/lsdbx/databricks-storage/internal/dev/faultinject"
	"github.com/lsdbx/databricks-storage/internal/dev/testenv"
	"github.com/lsdbx/databricks-storage/internal/sweep"
)

// defaultFaultSeed is the seed of the randomised fault runs when FAULT_SEED
// is unset. It is fixed, not taken from the clock, so that `make test` is
// itself reproducible: its printed counts are the same on every machine and
// every run, and a failure in CI fails again on a developer's machine without
// digging the seed out of a log. Other seeds are explored on purpose, with
// FAULT_SEED=<integer> or FAULT_SEED=random; every run prints its seed.
const defaultFaultSeed = 20261125

// faultSeed is the seed FAULT_SEED names (an integer, or "random" for one
// from the clock), else defaultFaultSeed.
func faultSeed(t *testing.T) int64 {
	t.Helper()
	switch v := strings.TrimSpace(os.Getenv("FAULT_SEED")); v {
	case "":
		return defaultFaultSeed
	case "random":
		return time.Now().UnixNano()
	default:
		seed, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			t.Fatalf("FAULT_SEED must be an integer or \"random\", got %q", v)
		}
		return seed
	}
}

// Fault rates of the randomised runs. The calls a create makes to do its
// work fail at faultRate per attempt. A create's undo calls (DeleteItem, a
// transaction that deletes, DeleteSecret) happen only after a failure, so
// rarely: they fail at undoRate, so that the undo path meets faults in every
// run rather than once in a while. For the same reason the record write of
// a create without an idempotency key (PutItem; the few keyless creates are
// the only ones to make it) fails at keylessWriteRate, often enough that
// their rollback, the only caller of DeleteItem, runs a few dozen times.
const (
	faultRate        = 0.08
	undoRate         = 0.5
	keylessWriteRate = 0.5
)

// classifyCall is the randomised runs' faultinject.Plan.Classify: it tells a
// transaction that deletes (a rollback) from one that puts, gives each kind
// of call its rate and spares the token lookup, which happens whenever the
// token cache expires: on the clock, not reproducibly.
func classifyCall(op string, body []byte) (string, float64) {
	switch op {
	case "DynamoDB_20120810.GetItem":
		if bytes.Contains(body, []byte(`"TOKEN#`)) {
			return op, 0
		}
	case "DynamoDB_20120810.TransactWriteItems":
		if bytes.Contains(body, []byte(`"Delete":`)) {
			return op + "/delete", undoRate
		}
		return op + "/put", faultRate
	case "DynamoDB_20120810.PutItem":
		return op, keylessWriteRate
	case "DynamoDB_20120810.DeleteItem", "secretsmanager.DeleteSecret":
		return op, undoRate
	}
	return op, faultRate
}

// faultedKinds are the kinds of call classifyCall names that a create makes:
// with and without an idempotency key, its work and its undo. A full run
// must fault every one.
var faultedKinds = []string{
	"DynamoDB_20120810.GetItem",
	"DynamoDB_20120810.UpdateItem",
	"secretsmanager.CreateSecret",
	"DynamoDB_20120810.TransactWriteItems/put",
	"DynamoDB_20120810.PutItem",
	"DynamoDB_20120810.TransactWriteItems/delete",
	"DynamoDB_20120810.DeleteItem",
	"secretsmanager.DeleteSecret",
}

// faultWorkload is the shape of a randomised fault run.
type faultWorkload struct {
	seed      int64
	creates   int // requests sent while AWS fails, keyless ones included
	keys      int // distinct idempotency keys; each is sent at least once
	keyless   int // creates without an idempotency key
	instances int // service instances sharing the table; each key, and each keyless create, belongs to one
	// serial sends the creates one at a time in the workload's order, else
	// each instance sends its own in that order, all instances at once.
	serial bool
}

// faultOutcome is what a run did and left behind. Every field is a function
// of the workload (seed included) alone, provided the service's clean-ups
// finish within their deadlines (see deadlineMargin): two runs of one
// workload must produce equal outcomes.
type faultOutcome struct {
	// Under the faults.
	OK, Replays, Failed int
	Statuses            string // status×count, by status
	Faults              int    // attempts faulted
	FaultsByKind        string // kind: faulted/decided, by kind
	// After the callers' retries and the sweep.
	Swept          int // orphan secrets the sweep deleted
	Storages       int // distinct storages the keys' retries returned
	Records        int
	KeyItems       int
	KeylessRecords int // records of keyless creates
	KeylessKept    int // of which the create answered 5xx: its rollback kept record and secret together
	Secrets        int
	Orphans        int // secrets no record refers to
	NoSecret       int // records whose secret is gone
}

// faultRun is a run's outcome, with what the fault plans decided and how
// close the service's clean-ups came to their deadlines.
type faultRun struct {
	faultOutcome
	decisions []faultinject.Decision // every attempt decided, sorted
	slack     time.Duration          // least time left before a clean-up's deadline (negative: past it)
	slackID   string                 // the create whose clean-up had it
	cleanups  bool                   // some clean-up ran under a deadline
}

// deadlineMargin is the least slack (see faultinject.Transport.Slack) that
// leaves a clean-up room for the SDK's longest backoff and one more call.
// Below it, a slow emulator may have cut a clean-up short: the service's
// rollback and discard each have 5 s, and moto's TransactWriteItems
// deep-copies the table and pauses for seconds in garbage collection once
// the table holds a thousand items or so. A run that came this close may
// not repeat its counts: a clean-up cut short makes fewer attempts than its
// retries allow (seen: one DeleteSecret fewer, one more orphan for the
// sweep), so it is reported with the counts.
const deadlineMargin = time.Second

// timing describes the run's slack, for logs and failure messages.
func (r faultRun) timing() string {
	switch {
	case !r.cleanups:
		return "no clean-up ran under a deadline"
	case r.slack < 0:
		return fmt.Sprintf("the clean-up of %s overran its deadline by %v: the emulator was slow, and the counts may depend on it", r.slackID, -r.slack.Round(time.Millisecond))
	case r.slack < deadlineMargin:
		return fmt.Sprintf("the clean-up of %s came within %v of its deadline: the emulator was slow, and the counts may depend on it", r.slackID, r.slack.Round(time.Millisecond))
	}
	return fmt.Sprintf("every clean-up finished at least %v before its deadline (closest: %s)", r.slack.Round(time.Millisecond), r.slackID)
}

// line is the run's one-line summary; `make unit` shows it.
func (o faultOutcome) line(w faultWorkload) string {
	return fmt.Sprintf("randomised faults: seed=%d creates=%d keys=%d keyless=%d ok=%d replays=%d 5xx=%d faults=%d swept=%d storages=%d records=%d keyless_kept=%d secrets=%d orphans=%d records_without_secret=%d",
		w.seed, w.creates, w.keys, w.keyless, o.OK, o.Replays, o.Failed, o.Faults, o.Swept, o.Storages, o.Records, o.KeylessKept, o.Secrets, o.Orphans, o.NoSecret)
}

// TestRandomisedFaults runs 1,000 creates (500 idempotency keys, each sent
// once, 400 repeats of random ones of them, and 100 creates without a key)
// through two instances sharing one table, while every AWS call a create makes, its undo
// included, fails now and then (throttling, 500s, lost responses, resets).
// Then every caller retries its key with AWS well again, and the sweep runs.
// Whatever happened, AWS must then hold exactly one complete storage per
// key, no orphan secret and no record without its secret.
//
// Which calls fail is a function of the seed (FAULT_SEED, see faultSeed) and
// of each call's identity, not of timing or interleaving (which
// TestRandomisedFaultsReplay checks with instances running at once), so a
// seed replays its run. The creates go one at a time, in the seed's order:
// the service gives each clean-up 5 s, and moto, which serves one request at
// a time, slows down as the table grows (it deep-copies the table for every
// transaction and pauses for seconds to collect the garbage), so creates in
// parallel would make a clean-up wait behind the others' calls and, now and
// then, run out of time and take another path (see deadlineMargin). For the
// same reason there are 500 keys, not more: moto's cost per transaction
// grows with the table, and the run's with its square.
func TestRandomisedFaults(t *testing.T) {
	w := faultWorkload{seed: faultSeed(t), creates: 1000, keys: 500, keyless: 100, instances: 2, serial: true}
	t.Logf("seed %d (FAULT_SEED=%d replays this run)", w.seed, w.seed)
	run := runFaults(t, w)
	o, decisions := run.faultOutcome, run.decisions
	fmt.Println(o.line(w))
	t.Logf("statuses under the faults: %s; faults by kind (faulted/decided): %s; after retries and sweep: storages %d, records %d (of keyless creates %d), key items %d, secrets %d; %s",
		o.Statuses, o.FaultsByKind, o.Storages, o.Records, o.KeylessRecords, o.KeyItems, o.Secrets, run.timing())
	if o.Failed == 0 {
		t.Error("no create failed: the faults did not bite")
	}
	faulted := map[string]int{}
	for _, d := range decisions {
		if d.Fault != faultinject.None {
			faulted[d.Kind]++
		}
	}
	for _, kind := range faultedKinds {
		if faulted[kind] == 0 {
			t.Errorf("no %s was faulted: the faults did not reach every call of a create", kind)
		}
	}
}

// TestRandomisedFaultsReplay runs a smaller randomised fault run twice with
// the same seed, at once, and requires the same outcome from both: the same
// decision for every attempt, and the same counts.
func TestRandomisedFaultsReplay(t *testing.T) {
	w := faultWorkload{seed: faultSeed(t), creates: 160, keys: 100, keyless: 30, instances: 2}
	t.Logf("seed %d", w.seed)
	var runs [2]faultRun
	t.Run("runs", func(t *testing.T) {
		for i := range runs {
			t.Run(fmt.Sprint(i), func(t *testing.T) {
				t.Parallel()
				runs[i] = runFaults(t, w)
			})
		}
	})
	if t.Failed() {
		return
	}
	a, b := runs[0], runs[1]
	t.Logf("first:  %s; %s", a.line(w), a.timing())
	t.Logf("second: %s; %s", b.line(w), b.timing())
	if a.Faults == 0 {
		t.Error("no fault was injected")
	}
	// Each attempt is decided by its identity; the order attempts arrive in
	// is the goroutines' business (an id reservation runs beside the
	// connection check), so the decisions are compared in a fixed order.
	da, db := byAttempt(a.decisions), byAttempt(b.decisions)
	if !slices.Equal(da, db) {
		t.Errorf("the runs decided %d and %d attempts, differently; first difference: %s (first run: %s; second: %s)",
			len(da), len(db), firstDifference(da, db), a.timing(), b.timing())
	}
	if a.faultOutcome != b.faultOutcome {
		t.Errorf("the same seed gave different outcomes:\n%+v\n%+v\n(first run: %s; second: %s)", a.faultOutcome, b.faultOutcome, a.timing(), b.timing())
	}
}

// byAttempt returns the decisions ordered by call id, kind and attempt.
func byAttempt(ds []faultinject.Decision) []faultinject.Decision {
	out := slices.Clone(ds)
	slices.SortFunc(out, func(x, y faultinject.Decision) int {
		return cmp.Or(cmp.Compare(x.ID, y.ID), cmp.Compare(x.Kind, y.Kind), cmp.Compare(x.Attempt, y.Attempt))
	})
	return out
}

func firstDifference(a, b []faultinject.Decision) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return fmt.Sprintf("%+v vs %+v", a[i], b[i])
		}
	}
	return "one is a prefix of the other"
}

// work is one create of a run.
type work struct {
	key      int    // the idempotency key's number; -1 for a keyless create
	n        int    // a keyless create's number
	instance int    // the instance that serves it
	label    string // the create's call id: its key and how often the key was sent before, or its keyless number
	// What the create got.
	status   int
	replayed bool
	id       any
}

// runFaults runs the workload and checks what AWS holds afterwards.
func runFaults(t *testing.T, w faultWorkload) faultRun {
	t.Helper()
	table, prefix := testenv.NewTable(t), testenv.NewSecretPrefix(t)
	// The id counter exists, as in any table that has served a create: on a
	// fresh table the first block's reservation rebuilds it (a query), and
	// which create makes that first reservation is the instances' race.
	if _, err := dynamodb.NewFromConfig(testenv.AWSConfig(t)).PutItem(context.Background(), &dynamodb.PutItemInput{
		TableName: aws.String(table),
		Item: map[string]types.AttributeValue{
			"pk": &types.AttributeValueMemberS{Value: "COUNTER#storage-id"}, "value": &types.AttributeValueMemberN{Value: "0"},
		},
	}); err != nil {
		t.Fatal(err)
	}
	instances := make([]*fixture, w.instances)
	for i := range instances {
		instances[i] = newFixture(t, table, prefix)
		if status, _ := instances[i].post(t, "/api/storages/databricks/validate", instances[i].patBody(1)); status != http.StatusOK {
			t.Fatalf("warm-up: %d", status)
		}
	}
	// Bodies name the project (one of a few, listed at the end), the title
	// (the key, which finds the record again) and the workspace of the
	// instance that serves the key.
	const firstProject, projects = 100, 4
	body := func(inst *fixture, title string, n int) string {
		return strings.Replace(inst.patBody(firstProject+n%projects), `"Images"`, strconv.Quote(title), 1)
	}
	keyTitle := func(key int) string { return fmt.Sprint("key ", key) }
	keylessTitle := func(n int) string { return fmt.Sprint("keyless ", n) }
	idemKey := func(key int) map[string]string {
		return map[string]string{"Idempotency-Key": fmt.Sprint("random-", key)}
	}

	// The creates: every key once, then repeats of random keys, and the
	// keyless ones, shuffled. Each key, and each keyless create, belongs to
	// one instance, which sends its creates in order: concurrent requests
	// with one key would race, and which of them replays and which fails
	// would then depend on timing. An instance serves one request at a time,
	// as a Lambda instance does, so which of its creates refills its block
	// of ids does not depend on timing either.
	rng := rand.New(rand.NewSource(w.seed))
	order := make([]int, 0, w.creates)
	for key := 0; key < w.keys; key++ {
		order = append(order, key)
	}
	for len(order) < w.creates-w.keyless {
		order = append(order, rng.Intn(w.keys))
	}
	for len(order) < w.creates {
		order = append(order, -1)
	}
	rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	creates := make([]work, len(order))
	queues := make([][]int, w.instances) // indexes into creates, per instance
	sent, keyless := map[int]int{}, 0
	for i, key := range order {
		c := work{key: key}
		if key >= 0 {
			c.label = fmt.Sprintf("key-%d/%d", key, sent[key])
			sent[key]++
			c.instance = key % w.instances
		} else {
			c.n, c.label = keyless, fmt.Sprintf("keyless-%d", keyless)
			c.instance = keyless % w.instances
			keyless++
		}
		creates[i] = c
		queues[c.instance] = append(queues[c.instance], i)
	}
	if w.serial {
		all := make([]int, len(creates))
		for i := range all {
			all[i] = i
		}
		queues = [][]int{all}
	}

	plan := &faultinject.Plan{Seed: w.seed, Classify: classifyCall}
	for _, inst := range instances {
		inst.faults.SetPlan(plan)
	}
	var wg sync.WaitGroup
	for _, queue := range queues {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, i := range queue {
				c := &creates[i]
				inst := instances[c.instance]
				title, n, header := keylessTitle(c.n), c.n, map[string]string(nil)
				if c.key >= 0 {
					title, n, header = keyTitle(c.key), c.key, idemKey(c.key)
				}
				ctx := faultinject.WithCallID(context.Background(), c.label)
				status, headers, resp := inst.sendContext(ctx, t, "/api/storages/databricks/", body(inst, title, n), header)
				c.status, c.replayed, c.id = status, headers["Idempotent-Replayed"] == "true", resp["id"]
				if status != http.StatusCreated && status < 500 {
					t.Errorf("%s: status %d: %v", c.label, status, resp)
				}
			}
		}()
	}
	wg.Wait()

	var o faultOutcome
	var decisions []faultinject.Decision
	var slack time.Duration
	var slackID string
	cleanups := false
	for _, inst := range instances {
		inst.faults.Clear()
		if n := inst.faults.Unlabelled(); n != 0 {
			t.Errorf("%d AWS calls carried no call id: the request's context did not reach them, so no fault could", n)
		}
		decisions = append(decisions, inst.faults.Decisions()...)
		if s, id, ok := inst.faults.Slack(); ok && (!cleanups || s < slack) {
			slack, slackID, cleanups = s, id, true
		}
	}
	slices.SortFunc(decisions, func(a, b faultinject.Decision) int {
		return cmp.Or(cmp.Compare(a.ID, b.ID), cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Attempt, b.Attempt))
	})
	type tally struct{ faulted, decided int }
	byKind := map[string]*tally{}
	for _, d := range decisions {
		if byKind[d.Kind] == nil {
			byKind[d.Kind] = &tally{}
		}
		byKind[d.Kind].decided++
		if d.Fault != faultinject.None {
			byKind[d.Kind].faulted++
			o.Faults++
		}
	}
	var kinds []string
	for _, kind := range slices.Sorted(maps.Keys(byKind)) {
		kinds = append(kinds, fmt.Sprintf("%s %d/%d", strings.TrimPrefix(strings.TrimPrefix(kind, "DynamoDB_20120810."), "secretsmanager."), byKind[kind].faulted, byKind[kind].decided))
	}
	o.FaultsByKind = strings.Join(kinds, ", ")
	statuses := map[int]int{}
	for _, c := range creates {
		statuses[c.status]++
		switch {
		case c.status == http.StatusCreated:
			o.OK++
			if c.replayed {
				o.Replays++
			}
		case c.status >= 500:
			o.Failed++
		}
	}
	var parts []string
	for _, status := range slices.Sorted(maps.Keys(statuses)) {
		parts = append(parts, fmt.Sprintf("%d×%d", status, statuses[status]))
	}
	o.Statuses = strings.Join(parts, " ")

	// AWS is well again; every caller retries its key until it has its
	// storage: once is enough now. Without faults the order no longer
	// matters: the keys are retried four at a time.
	idOfKey := make([]any, w.keys)
	for worker := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for key := worker; key < w.keys; key += 4 {
				inst := instances[key%w.instances]
				status, _, resp := inst.send(t, "/api/storages/databricks/", body(inst, keyTitle(key), key), idemKey(key))
				if status != http.StatusCreated {
					t.Errorf("key %d after the faults: status %d: %v", key, status, resp)
				}
				idOfKey[key] = resp["id"]
			}
		}()
	}
	wg.Wait()

	// An hour later the scheduled sweep runs.
	sweeper := sweep.New(testenv.AWSConfig(t), config.Config{TableName: table, SecretNamePrefix: prefix, SweepGrace: config.DefaultSweepGrace}, slog.New(slog.DiscardHandler))
	sweeper.Now = func() time.Time { return time.Now().Add(time.Hour) }
	report, err := sweeper.Sweep(context.Background())
	if err != nil {
		t.Errorf("sweep: %v", err)
	}
	if report.Skipped != 0 {
		t.Errorf("the sweep left %d secrets in doubt: %v", report.Skipped, report.SkippedNames)
	}
	o.Swept = report.Deleted

	// What AWS holds.
	secrets := secretARNs(t, prefix) // ARN -> name
	o.Secrets = len(secrets)
	keyItems := map[string]string{} // idempotency key (unscoped) -> storage id
	for _, item := range testenv.ScanTable(t, table) {
		pk, _ := item["pk"].(*types.AttributeValueMemberS)
		if pk == nil || !strings.HasPrefix(pk.Value, "IDEMPOTENCY#") {
			continue
		}
		id, _ := item["storage_id"].(*types.AttributeValueMemberN)
		if id == nil {
			t.Errorf("key item %s names no storage", pk.Value)
			continue
		}
		// The item's key is the caller's key scoped to the caller.
		keyItems[pk.Value[strings.LastIndex(pk.Value, ":")+1:]] = id.Value
	}
	o.KeyItems = len(keyItems)
	referenced := map[string]int64{} // secret ARN -> record id
	recordsOfTitle := map[string][]int64{}
	for project := int64(firstProject); project < firstProject+projects; project++ {
		list, err := instances[0].app.Store.ListProject(context.Background(), project)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range list {
			o.Records++
			if other, dup := referenced[r.SecretARN]; dup {
				t.Errorf("records %d and %d share a secret", other, r.ID)
			}
			referenced[r.SecretARN] = r.ID
			if _, ok := secrets[r.SecretARN]; !ok {
				o.NoSecret++
				t.Errorf("record %d (%v): its secret is gone; the service's logs of it: %s", r.ID, strOrEmpty(r.Title), logsOf(instances, r.ID))
			}
			if r.Title == nil {
				t.Errorf("record %d has no title", r.ID)
				continue
			}
			recordsOfTitle[*r.Title] = append(recordsOfTitle[*r.Title], r.ID)
		}
	}
	for arn, name := range secrets {
		if _, ok := referenced[arn]; !ok {
			o.Orphans++
			id, _ := strconv.ParseInt(name[strings.LastIndex(name, "-")+1:], 10, 64)
			t.Errorf("orphan secret %s; the service's logs of storage %d: %s", name, id, logsOf(instances, id))
		}
	}
	distinct := map[any]bool{}
	for key, id := range idOfKey {
		distinct[id] = true
		records := recordsOfTitle[keyTitle(key)]
		if len(records) != 1 || fmt.Sprint(records[0]) != fmt.Sprint(id) {
			t.Errorf("key %d: its retry returned storage %v; records of the key: %v", key, id, records)
		}
		if item := keyItems[fmt.Sprint("random-", key)]; item != fmt.Sprint(id) {
			t.Errorf("key %d: its item names storage %q, its retry returned %v", key, item, id)
		}
	}
	o.Storages = len(distinct)
	for _, c := range creates {
		if c.key >= 0 {
			continue
		}
		records := recordsOfTitle[keylessTitle(c.n)]
		o.KeylessRecords += len(records)
		switch {
		case len(records) > 1:
			t.Errorf("%s: %d records for one create", c.label, len(records))
		case c.status == http.StatusCreated && (len(records) != 1 || fmt.Sprint(records[0]) != fmt.Sprint(c.id)):
			t.Errorf("%s: created storage %v, records %v", c.label, c.id, records)
		case c.status != http.StatusCreated && len(records) == 1:
			// Its rollback could not confirm the record gone, so it kept
			// record and secret together: a complete storage, by design.
			o.KeylessKept++
			t.Logf("%s answered %d but left storage %d, complete", c.label, c.status, records[0])
		}
	}
	if o.Storages != w.keys || o.KeyItems != w.keys {
		t.Errorf("want one storage per key (%d): storages %d, key items %d", w.keys, o.Storages, o.KeyItems)
	}
	if o.Records != w.keys+o.KeylessRecords || o.Secrets != o.Records {
		t.Errorf("records %d (of keys %d, keyless %d), secrets %d: want a record per key and per keyless storage, and a secret per record", o.Records, w.keys, o.KeylessRecords, o.Secrets)
	}
	return faultRun{faultOutcome: o, decisions: decisions, slack: slack, slackID: slackID, cleanups: cleanups}
}

// logsOf returns the service's log lines that name storage id, for a
// failure's report (which create, and which of its calls failed, can then
// be found by replaying the seed).
func logsOf(instances []*fixture, id int64) string {
	var lines []string
	for _, inst := range instances {
		for line := range strings.Lines(inst.logs.String()) {
			quoted, bare := fmt.Sprintf(`"storage_id":"%d"`, id), fmt.Sprintf(`"storage_id":%d`, id)
			if strings.Contains(line, quoted) || strings.Contains(line, bare+",") || strings.Contains(line, bare+"}") {
				lines = append(lines, strings.TrimSpace(line))
			}
		}
	}
	if len(lines) == 0 {
		return "none"
	}
	return strings.Join(lines, "\n")
}

func strOrEmpty(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// secretARNs lists the secrets under prefix: ARN -> name.
func secretARNs(t *testing.T, prefix string) map[string]string {
	t.Helper()
	client := secretsmanager.NewFromConfig(testenv.AWSConfig(t))
	out := map[string]string{}
	p := secretsmanager.NewListSecretsPaginator(client, &secretsmanager.ListSecretsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("list secrets: %v", err)
		}
		for _, s := range page.SecretList {
			if strings.HasPrefix(aws.ToString(s.Name), prefix) {
				out[aws.ToString(s.ARN)] = aws.ToString(s.Name)
			}
		}
	}
	return out
}
