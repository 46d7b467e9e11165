package plan_test

import (
	"testing"
	"time"

	"github.com/etcdpilot/etcdpilot/pkg/catalog"
	"github.com/etcdpilot/etcdpilot/pkg/certs"
	"github.com/etcdpilot/etcdpilot/pkg/plan"
)

func TestCertificateFindings(t *testing.T) {
	cat, err := catalog.Default()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	cl := plan.Cluster{Live: true, Members: []plan.Member{{Name: "m1", Version: "3.5.36", Reachable: true}, {Name: "m2", Version: "3.5.36", Reachable: true}, {Name: "m3", Version: "3.5.36", Reachable: true}}}
	cs := []certs.Cert{
		{Kind: certs.Client, Where: "client.crt", NotAfter: now.Add(-time.Hour)},
		{Kind: certs.Serving, Member: "m1", Where: "https://10.0.0.1:2379", NotAfter: now.Add(15 * time.Minute)},
		{Kind: certs.PeerFile, Member: "m2", Where: "/etc/kubernetes/pki/etcd/peer.crt", NotAfter: now.Add(20 * 24 * time.Hour)},
		{Kind: certs.ServerFile, Member: "m3", Where: "/etc/kubernetes/pki/etcd/server.crt", NotAfter: now.Add(365 * 24 * time.Hour)},
		{Kind: certs.PeerServing, Member: "m3", Where: "https://10.0.0.3:2380", Error: "connection refused"},
	}
	p, err := plan.Make(cat, cl, plan.Options{Target: "3.6.16", Now: now, Certificates: cs})
	if err != nil {
		t.Fatal(err)
	}
	// One minor hop restarts 3 members: 10m + 3 x 2m.
	if p.Window() != 16*time.Minute {
		t.Errorf("window %s, want 16m", p.Window())
	}
	if got := codes(p.Blockers); got["certificate-expired"] != 1 || got["certificate-expires-during-change"] != 1 {
		t.Errorf("blockers %+v: want the expired client certificate and m1's serving certificate (15 minutes left, a 16-minute change)", p.Blockers)
	}
	if got := codes(p.Warnings); got["certificate-expires-soon"] != 1 || got["certificate-unreadable"] != 1 {
		t.Errorf("warnings %+v: want m2's peer file (20 days) and m3's unreadable peer certificate", p.Warnings)
	}
	// A shorter window given by the operator: m1's certificate outlasts it.
	p, _ = plan.Make(cat, cl, plan.Options{Target: "3.6.16", Now: now, Certificates: cs, Window: 10 * time.Minute})
	if got := codes(p.Blockers); got["certificate-expires-during-change"] != 0 || got["certificate-expires-soon"] != 0 || codes(p.Warnings)["certificate-expires-soon"] != 2 {
		t.Errorf("10-minute window: blockers %+v warnings %+v", p.Blockers, p.Warnings)
	}
}
