// Package kubernetes_test checks the Kubernetes manifests of deploy/kubernetes.
// No YAML module is a dependency of migrate and no cluster is at hand for
// 'kubectl apply --dry-run' (kubectl needs an API server even then), so the
// test reads the block-style YAML subset the manifests use into flat
// "path=value" entries and checks the fields docs/scale-out.md relies on.
package kubernetes_test

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// doc is one YAML document as flat entries: "spec.template.spec.containers[].name" -> values.
type doc map[string][]string

// parse reads block-style YAML (maps, lists, scalars, flow lists of
// scalars; no anchors or multi-line strings) into one doc per "---".
func parse(t *testing.T, path string) []doc {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	type level struct {
		indent int
		path   string
	}
	var docs []doc
	cur := doc{}
	var stack []level
	for n, raw := range strings.Split(string(b), "\n") {
		line := raw
		if i := strings.Index(line, " #"); i >= 0 && !strings.Contains(line[:i], `"`) {
			line = line[:i]
		}
		if strings.HasPrefix(strings.TrimSpace(line), "#") || strings.TrimSpace(line) == "" {
			continue
		}
		if strings.TrimSpace(line) == "---" {
			docs, cur, stack = append(docs, cur), doc{}, nil
			continue
		}
		if strings.Contains(line, "\t") {
			t.Fatalf("%s:%d: a tab", path, n+1)
		}
		indent := len(line) - len(strings.TrimLeft(line, " "))
		text := strings.TrimSpace(line)
		for len(stack) > 0 && stack[len(stack)-1].indent >= indent {
			stack = stack[:len(stack)-1]
		}
		parent := ""
		if len(stack) > 0 {
			parent = stack[len(stack)-1].path
		}
		if item, ok := strings.CutPrefix(text, "- "); ok || text == "-" {
			parent += "[]"
			// The item's own keys are one level deeper than the dash.
			stack = append(stack, level{indent, parent})
			indent += 2
			text = item
			if !strings.Contains(text, ": ") && !strings.HasSuffix(text, ":") {
				cur[parent] = append(cur[parent], unquote(text))
				continue
			}
		}
		key, value, _ := strings.Cut(text, ":")
		p := strings.TrimPrefix(parent+"."+strings.TrimSpace(key), ".")
		value = strings.TrimSpace(value)
		if value == "" {
			stack = append(stack, level{indent, p})
			continue
		}
		if strings.HasPrefix(value, "[") && strings.HasSuffix(value, "]") {
			for _, v := range strings.Split(strings.Trim(value, "[]"), ",") {
				cur[p+"[]"] = append(cur[p+"[]"], unquote(strings.TrimSpace(v)))
			}
			continue
		}
		cur[p] = append(cur[p], unquote(value))
	}
	return append(docs, cur)
}

func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '"' && s[len(s)-1] == '"' || s[0] == '\'' && s[len(s)-1] == '\'') {
		return s[1 : len(s)-1]
	}
	return s
}

func (d doc) one(t *testing.T, path string) string {
	t.Helper()
	v := d[path]
	if len(v) != 1 {
		t.Errorf("%s: %q, want one value", path, v)
		return ""
	}
	return v[0]
}

func find(docs []doc, kind string) doc {
	for _, d := range docs {
		if slices.Contains(d["kind"], kind) {
			return d
		}
	}
	return nil
}

func TestIndexedJob(t *testing.T) {
	docs := parse(t, "migrate-job.yaml")
	job := find(docs, "Job")
	if job == nil {
		t.Fatal("no Job")
	}
	if job.one(t, "apiVersion") != "batch/v1" || job.one(t, "spec.completionMode") != "Indexed" {
		t.Errorf("not an Indexed batch/v1 Job: %v", job)
	}
	completions := job.one(t, "spec.completions")
	if completions == "" || job.one(t, "spec.parallelism") == "" {
		t.Error("completions and parallelism must be set")
	}
	const c = "spec.template.spec.containers[]."
	args := job[c+"args[]"]
	i := slices.Index(args, "--shard-count")
	if i < 0 || i+1 >= len(args) || args[i+1] != completions {
		t.Errorf("--shard-count must equal completions (%s): args %q", completions, args)
	}
	if slices.Contains(args, "--shard") {
		t.Error("the shard index must come from JOB_COMPLETION_INDEX, not a fixed --shard")
	}
	if j := slices.Index(args, "--job-id"); j < 0 || !strings.Contains(args[j+1], "$(SHARD)") {
		t.Errorf("each shard needs its own --job-id naming its index: %q", args)
	}
	if k := slices.Index(job[c+"env[].name"], "SHARD"); k < 0 ||
		!slices.Contains(job[c+"env[].valueFrom.fieldRef.fieldPath"], "metadata.annotations['batch.kubernetes.io/job-completion-index']") {
		t.Error("SHARD must be the completion index")
	}
	if j := slices.Index(args, "--journal-dir"); j < 0 || !slices.Contains(job[c+"volumeMounts[].mountPath"], args[j+1]) {
		t.Error("the journal must be on a volume")
	}
	if !slices.Contains(job["spec.template.spec.volumes[].persistentVolumeClaim.claimName"], "migrate-journal") || find(docs, "PersistentVolumeClaim") == nil {
		t.Error("the journal volume must be the persistent migrate-journal claim")
	}
	// Not root, not privileged.
	if job.one(t, "spec.template.spec.securityContext.runAsNonRoot") != "true" || job.one(t, c+"securityContext.runAsNonRoot") != "true" {
		t.Error("runAsNonRoot must be true for the pod and the container")
	}
	if uid := job.one(t, "spec.template.spec.securityContext.runAsUser"); uid == "0" || uid == "" {
		t.Errorf("runAsUser %q", uid)
	}
	if job.one(t, c+"securityContext.allowPrivilegeEscalation") != "false" || job.one(t, c+"securityContext.readOnlyRootFilesystem") != "true" ||
		!slices.Contains(job[c+"securityContext.capabilities.drop[]"], "ALL") {
		t.Error("the container must drop all capabilities, forbid privilege escalation and have a read-only root")
	}
	if job.one(t, c+"resources.requests.cpu") == "" || job.one(t, c+"resources.requests.memory") == "" || job.one(t, c+"resources.limits.memory") == "" {
		t.Error("resource requests and a memory limit must be set")
	}
	if job.one(t, "spec.template.spec.restartPolicy") != "Never" {
		t.Error("restartPolicy must be Never (a failed shard is a new pod that resumes)")
	}
	// Workload identity on both sides, and Secrets as the alternative.
	sa := find(docs, "ServiceAccount")
	if sa == nil || len(sa["metadata.annotations.eks.amazonaws.com/role-arn"]) != 1 || len(sa["metadata.annotations.azure.workload.identity/client-id"]) != 1 {
		t.Errorf("the ServiceAccount needs the IRSA and Azure workload identity annotations: %v", sa)
	}
	if job.one(t, "spec.template.spec.serviceAccountName") != sa.one(t, "metadata.name") {
		t.Error("the pods must use the ServiceAccount")
	}
	if job.one(t, "spec.template.metadata.labels.azure.workload.identity/use") != "true" {
		t.Error("the pods must carry azure.workload.identity/use: \"true\"")
	}
	if job.one(t, c+"envFrom[].secretRef.name") != "migrate-credentials" {
		t.Error("credentials from the migrate-credentials Secret")
	}
	secret := find(parse(t, "credentials-secret.example.yaml"), "Secret")
	if secret == nil || secret.one(t, "metadata.name") != "migrate-credentials" {
		t.Error("credentials-secret.example.yaml must define migrate-credentials")
	}
}

func TestSummaryJobAndDockerfile(t *testing.T) {
	sum := find(parse(t, "migrate-summary.yaml"), "Job")
	if sum == nil || strings.Join(sum["spec.template.spec.containers[].args[]"], " ") != "jobs summary --results /journal" ||
		sum.one(t, "spec.template.spec.securityContext.runAsNonRoot") != "true" {
		t.Errorf("summary job: %v", sum)
	}
	b, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	df := string(b)
	for _, re := range []string{`(?m)^FROM golang:\S+ AS build$`, `CGO_ENABLED=0`, `(?m)^FROM gcr\.io/distroless/static\S*:nonroot$`,
		`(?m)^USER 65532:65532$`, `(?m)^ENTRYPOINT \["/usr/local/bin/migrate"\]$`} {
		if !regexp.MustCompile(re).MatchString(df) {
			t.Errorf("Dockerfile does not match %s", re)
		}
	}
}
