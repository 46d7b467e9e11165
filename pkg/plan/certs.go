package plan

import (
	"fmt"
	"time"

	"github.com/etcdpilot/etcdpilot/pkg/certs"
)

// Budgets of the expected length of a change, for the certificate check:
// the pre-change snapshot, then each member restarted once per step,
// within the apply's default gate timeout and as long again to stop and
// start. Generous on purpose: a certificate that lasts it out is safe.
const (
	snapshotBudget = 10 * time.Minute
	restartBudget  = 2 * time.Minute
)

// Window is the expected length of the planned change.
func (p *Plan) Window() time.Duration {
	return snapshotBudget + time.Duration(len(p.Path)*len(p.Current.Members))*restartBudget
}

// certificates judges the certificates read from a live cluster: expired
// or expiring within the change blocks it, expiring within 30 days warns.
func (pl *planner) certificates() {
	window := pl.opts.Window
	if window <= 0 {
		window = pl.p.Window()
	}
	cs := append([]certs.Cert(nil), pl.opts.Certificates...)
	certs.Judge(cs, pl.opts.Now, window)
	for _, c := range cs {
		f := Finding{Member: c.Member, Link: "https://etcd.io/docs/v3.6/op-guide/security/"}
		when := fmt.Sprintf("%s (%s, %s)", c.NotAfter.Format(time.DateOnly), c.Subject, c.Left(pl.opts.Now))
		switch c.Verdict {
		case certs.Expired:
			f.Code, f.Message = "certificate-expired", fmt.Sprintf("%s expired on %s", c.Describe(), when)
			f.Reason = "members and clients refuse it: renew it (kubeadm certs renew etcd-server, etcd-peer, etcd-healthcheck-client) before changing the cluster"
			pl.block(f)
		case certs.ExpiresInChange:
			f.Code, f.Message = "certificate-expires-during-change", fmt.Sprintf("%s expires on %s, within the %s the change may take", c.Describe(), when, window.Round(time.Minute))
			f.Reason = "a member restarted after the expiry cannot rejoin, or clients cannot reach it: renew the certificate first"
			pl.block(f)
		case certs.ExpiresSoon:
			f.Code, f.Message = "certificate-expires-soon", fmt.Sprintf("%s expires on %s", c.Describe(), when)
			f.Reason = "within 30 days: plan its renewal with this change"
			pl.warn(f)
		case certs.Unknown:
			f.Code, f.Message = "certificate-unreadable", fmt.Sprintf("%s could not be read: %s", c.Describe(), c.Error)
			f.Reason = "its expiry is unknown; check it by hand (openssl x509 -enddate -noout -in FILE)"
			pl.warn(f)
		}
	}
}
