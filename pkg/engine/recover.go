package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/etcdpilot/etcdpilot/pkg/poll"
)

// Recover finishes a member restart that a crash of etcdpilot cut off
// between stopping the member and starting it: the member is down and the
// journal says which version it was being started on. versionFor may pick
// another version (a rollback brings the member back on its old one). A
// member that answers is left alone: the steps find out themselves what is
// done. Every change, whatever it was, is resumed through here.
func (e *Env) Recover(ctx context.Context, versionFor func(Entry) string) error {
	e.defaults()
	p := e.Journal.Pending()
	if p == nil {
		return nil
	}
	// The interrupted restart may have started the member already: give
	// it a moment to answer.
	up := func(ctx context.Context) (bool, error) { return e.answers(ctx, p.Member), nil }
	if poll.Until(ctx, 500*time.Millisecond, 10*time.Second, up) == nil {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	v := p.Version
	if versionFor != nil {
		v = versionFor(*p)
	}
	e.Log.Info("member {member} is down after an interrupted restart: starting it on {version}", "member", p.Member, "version", v)
	s := Step{Action: Restart, Member: p.Member, Version: v, Rollback: p.Rollback || v != p.Version}
	if err := e.Do(ctx, s); err != nil {
		return fmt.Errorf("bringing back %s after the interrupted restart: %w", p.Member, err)
	}
	_, err := e.Session.WaitHealthy(ctx, e.GateTimeout)
	return err
}
