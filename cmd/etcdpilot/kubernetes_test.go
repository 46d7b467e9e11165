package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/etcdpilot/etcdpilot/internal/testutil"
	"github.com/etcdpilot/etcdpilot/internal/testutil/kube"
	"github.com/etcdpilot/etcdpilot/pkg/sandbox"
)

// TestDeployOnKubernetes applies deploy/kubernetes to a real one-node
// control plane (kube-apiserver on the stacked etcd, controller-manager,
// scheduler, a kubelet on containerd registered as a control-plane node)
// with server-side apply and strict validation. The agent's Deployment
// is scheduled, its pod runs the image under the manifests' least
// privilege, backs the stacked etcd up into versitygw and answers
// /metrics and /healthz; a Job made from the CronJob (as kubectl create
// job --from does) saves a verified snapshot and prunes, without a shell.
// A real Prometheus scraping the pod with the shipped rules holds no
// alert for the healthy one-member stacked etcd; its member-down alert is
// raised when a learner added beside it is killed, and clears once the
// learner is removed.
//
// What the test changes in the manifests, as an operator would: the
// image's tag, the host paths of the PKI, lock and state (a test's
// directories, not the host's), the etcd endpoint, the S3 server
// (--s3-endpoint and path style for versitygw), the bucket, the metrics
// port (host network), and the agent's schedules (backups every minute,
// checks every 5 s).
func TestDeployOnKubernetes(t *testing.T) {
	t.Parallel()
	sb := testutil.Sandbox(t, sandbox.Options{Members: 1, Versions: []string{testutil.V36}, TLS: true})
	st, _ := sb.State()
	s3, data := testutil.S3(t, "etcd-backups")
	dir := t.TempDir()
	image, _ := buildImage(t, dir, "image")
	cp := kube.NewControlPlane(t, st.Conn(), image)
	api := cp.API
	ctx := testutil.Context(t, 10*time.Minute)

	// kubeadm's files, as kubeadm writes them (root, 0600 for the key).
	pki := filepath.Join(dir, "pki")
	copyFile(t, st.TLS.CA, filepath.Join(pki, "ca.crt"), 0o644)
	copyFile(t, st.TLS.Client.Cert, filepath.Join(pki, "healthcheck-client.crt"), 0o644)
	copyFile(t, st.TLS.Client.Key, filepath.Join(pki, "healthcheck-client.key"), 0o600)
	locks, state := filepath.Join(dir, "locks"), filepath.Join(dir, "state")
	port := freePort(t)
	edit := strings.NewReplacer(
		"image: etcdpilot:0.1.0-dev", "image: etcdpilot:test",
		"/etc/kubernetes/pki/etcd", pki,
		"path: /run/lock/etcdpilot", "path: "+locks,
		"path: /var/lib/etcdpilot", "path: "+state,
		"https://127.0.0.1:2379", st.Members[0].ClientURL,
		"s3://etcd-backups/cluster-1/", "s3://etcd-backups/k8s/",
		"9479", fmt.Sprint(port),
		`schedule: "0 * * * *"`+"\n        store:", `schedule: "@every 1m"`+"\n        store:",
		`schedule: "@every 30s"`, `schedule: "@every 5s"`,
		"            - --config=/etc/etcdpilot/agent.yaml", "            - --config=/etc/etcdpilot/agent.yaml\n            - --s3-endpoint="+s3+"\n            - --s3-path-style",
		"                - s3://etcd-backups/cluster-1/", "                - s3://etcd-backups/k8s/\n                - --s3-endpoint="+s3+"\n                - --s3-path-style",
		"[snapshot, prune, s3://etcd-backups/cluster-1/,", "[snapshot, prune, s3://etcd-backups/k8s/, --s3-endpoint="+s3+", --s3-path-style,",
	)
	secret := map[string]any{"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"name": "etcdpilot-s3", "namespace": "kube-system"},
		"stringData": map[string]string{"AWS_ACCESS_KEY_ID": testutil.S3AccessKey, "AWS_SECRET_ACCESS_KEY": testutil.S3SecretKey, "AWS_REGION": testutil.S3Region}}
	code, body, err := api.Do(ctx, http.MethodPost, "/api/v1/namespaces/kube-system/secrets", secret)
	if err != nil || code != 201 {
		t.Fatalf("secret: %d %v %s", code, err, body)
	}
	for _, f := range []string{"agent.yaml", "backup-cronjob.yaml"} {
		b, err := os.ReadFile(filepath.Join("../../deploy/kubernetes", f))
		testutil.Must(t, err)
		applyAll(t, ctx, api, edit.Replace(string(b)))
	}

	// The Deployment: scheduled, running, ready (its /healthz), backing up.
	testutil.Eventually(t, 4*time.Minute, func() error {
		var d struct {
			Status struct{ ReadyReplicas int } `json:"status"`
		}
		if err := getJSON(ctx, api, "/apis/apps/v1/namespaces/kube-system/deployments/etcdpilot-agent", &d); err != nil {
			return err
		}
		if d.Status.ReadyReplicas != 1 {
			return fmt.Errorf("the agent is not ready: %s", podStates(ctx, api))
		}
		return nil
	})
	objects := func() []string {
		m, _ := filepath.Glob(filepath.Join(data, "etcd-backups", "k8s", "*.db"))
		return m
	}
	testutil.Eventually(t, 3*time.Minute, func() error {
		if len(objects()) == 0 {
			return fmt.Errorf("no snapshot from the agent yet: %s", podStates(ctx, api))
		}
		return nil
	})
	// The object is there once uploaded; the run counts once verified.
	testutil.Eventually(t, time.Minute, func() error {
		if code, m := httpGet(fmt.Sprintf("http://127.0.0.1:%d/metrics", port)); code != 200 || !strings.Contains(m, `etcdpilot_backup_runs_total{backup="hourly",result="success"}`) {
			return fmt.Errorf("the agent's /metrics: %d, no successful backup counted", code)
		}
		return nil
	})
	// The shipped rules, evaluated by a real Prometheus scraping the pod:
	// the stacked etcd is a healthy one-member cluster, so nothing is
	// pending or firing (the hash state is unknown, not a disagreement).
	prom := testutil.Prometheus(t, fmt.Sprintf("127.0.0.1:%d", port), "../../deploy/prometheus/etcdpilot-rules.yaml")
	testutil.Eventually(t, time.Minute, func() error {
		if len(testutil.PromQuery(t, prom, `etcdpilot_hash_agreement{state="unknown"} == 1`)) == 0 {
			return fmt.Errorf("no hash state scraped yet")
		}
		return nil
	})
	time.Sleep(3 * time.Second) // three rule evaluations
	if a := testutil.Alerts(t, prom); len(a) > 0 {
		t.Errorf("alerts on the healthy one-member stacked etcd: %v", a)
	}

	// A member dies, then is removed: the member-down alert is raised,
	// then clears with its series. The member is a learner beside the
	// one voter, so the API server keeps its quorum throughout.
	home := filepath.Dir(filepath.Dir(sb.Dir))
	for _, args := range [][]string{{"member", "add", "m2", "--sandbox", st.Name}, {"sandbox", "proc", "kill", "m2", "--name", st.Name}} {
		if r := run(t, home, args...); r.code != 0 {
			t.Fatalf("%v: %d\n%s%s", args, r.code, r.stdout, r.stderr)
		}
	}
	alert := func(raised bool) {
		t.Helper()
		testutil.Eventually(t, 2*time.Minute, func() error {
			if a := testutil.Alerts(t, prom); slices.Contains(a, "EtcdMemberDown{m2}") != raised {
				return fmt.Errorf("EtcdMemberDown{m2} raised %v, want %v: %v", !raised, raised, a)
			}
			return nil
		})
	}
	alert(true)
	if r := run(t, home, "member", "remove", "m2", "--sandbox", st.Name); r.code != 0 {
		t.Fatalf("member remove: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	alert(false)

	// A Job from the CronJob, as kubectl create job --from=cronjob/... makes.
	var cj struct {
		Metadata struct{ UID string }
		Spec     struct {
			JobTemplate struct{ Spec map[string]any } `json:"jobTemplate"`
		}
	}
	testutil.Must(t, getJSON(ctx, api, "/apis/batch/v1/namespaces/kube-system/cronjobs/etcdpilot-backup", &cj))
	before := len(objects())
	job := map[string]any{"apiVersion": "batch/v1", "kind": "Job",
		"metadata": map[string]any{"name": "etcdpilot-backup-manual", "namespace": "kube-system",
			"annotations": map[string]string{"cronjob.kubernetes.io/instantiate": "manual"}},
		"spec": cj.Spec.JobTemplate.Spec}
	code, body, err = api.Do(ctx, http.MethodPost, "/apis/batch/v1/namespaces/kube-system/jobs", job)
	if err != nil || code != 201 {
		t.Fatalf("job: %d %v %s", code, err, body)
	}
	testutil.Eventually(t, 4*time.Minute, func() error {
		var j struct {
			Status struct{ Succeeded, Failed int }
		}
		if err := getJSON(ctx, api, "/apis/batch/v1/namespaces/kube-system/jobs/etcdpilot-backup-manual", &j); err != nil {
			return err
		}
		if j.Status.Succeeded != 1 {
			return fmt.Errorf("job: %+v; %s", j.Status, podStates(ctx, api))
		}
		return nil
	})
	after := objects()
	if len(after) <= before && len(after) < 2 {
		t.Errorf("the Job left no snapshot: %d before, %v after", before, after)
	}
	for _, o := range after {
		r := runEnv(t, t.TempDir(), testutil.S3Environ(), "snapshot", "verify", "s3://etcd-backups/k8s/"+filepath.Base(o), "--s3-endpoint", s3, "--s3-path-style")
		if r.code != 0 {
			t.Errorf("verify %s: %d\n%s%s", filepath.Base(o), r.code, r.stdout, r.stderr)
		}
	}
}

// applyAll applies every document of a manifest by server-side apply,
// with strict field validation.
func applyAll(t *testing.T, ctx context.Context, api *kube.APIServer, text string) {
	t.Helper()
	for _, doc := range strings.Split(text, "\n---\n") {
		var meta struct {
			APIVersion string `yaml:"apiVersion"`
			Kind       string
			Metadata   struct{ Name, Namespace string }
		}
		testutil.Must(t, yaml.Unmarshal([]byte(doc), &meta))
		resource := map[string]string{"ConfigMap": "configmaps", "Deployment": "deployments", "CronJob": "cronjobs"}[meta.Kind]
		if resource == "" {
			t.Fatalf("no resource known for %s", meta.Kind)
		}
		base := "/api/v1"
		if meta.APIVersion != "v1" {
			base = "/apis/" + meta.APIVersion
		}
		path := fmt.Sprintf("%s/namespaces/%s/%s/%s?fieldManager=etcdpilot-test&fieldValidation=Strict", base, meta.Metadata.Namespace, resource, meta.Metadata.Name)
		code, body, err := api.DoContent(ctx, http.MethodPatch, path, []byte(doc), "application/apply-patch+yaml")
		if err != nil || (code != 200 && code != 201) {
			t.Fatalf("apply %s %s: %d %v %s", meta.Kind, meta.Metadata.Name, code, err, body)
		}
	}
}

func getJSON(ctx context.Context, api *kube.APIServer, path string, v any) error {
	code, body, err := api.Do(ctx, http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	if code != 200 {
		return fmt.Errorf("GET %s: %d %s", path, code, body)
	}
	return json.Unmarshal(body, v)
}

// podStates says where each pod of kube-system is, for messages.
func podStates(ctx context.Context, api *kube.APIServer) string {
	var l struct {
		Items []struct {
			Metadata struct{ Name string }
			Status   struct {
				Phase             string
				Conditions        []struct{ Type, Status, Reason, Message string }
				ContainerStatuses []struct {
					Name  string
					State map[string]struct{ Reason, Message string }
				} `json:"containerStatuses"`
				InitContainerStatuses []struct {
					Name  string
					State map[string]struct{ Reason, Message string }
				} `json:"initContainerStatuses"`
			}
		}
	}
	if err := getJSON(ctx, api, "/api/v1/namespaces/kube-system/pods", &l); err != nil {
		return err.Error()
	}
	var out []string
	for _, p := range l.Items {
		s := p.Metadata.Name + " " + p.Status.Phase
		for _, c := range p.Status.Conditions {
			if c.Status != "True" && c.Message != "" {
				s += fmt.Sprintf(" [%s: %s]", c.Type, c.Message)
			}
		}
		for _, c := range append(p.Status.InitContainerStatuses, p.Status.ContainerStatuses...) {
			for k, v := range c.State {
				s += fmt.Sprintf(" %s=%s %s %s", c.Name, k, v.Reason, v.Message)
			}
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return "no pods"
	}
	return strings.Join(out, "; ")
}
