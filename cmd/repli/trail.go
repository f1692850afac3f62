package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/repli-dr/repli/internal/replica"
)

// newTrailCmd is `repli trail`: the audit trail as a file, here its
// replica at the other site.
func newTrailCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "trail",
		Short: "The audit trail's replica at the other site",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newTrailRestoreCmd())
	return cmd
}

func newTrailRestoreCmd() *cobra.Command {
	var db string
	o := replica.EnvOptions()
	cmd := &cobra.Command{
		Use:   "restore URL",
		Short: "Restore the audit trail from its replica, at the other site",
		Long: `Restore the audit trail that a console replicated (REPLI_REPLICA, or
replica: in the config) from its replica, with Litestream, then verify its
hash chain. Run it at the other site when the console's site is lost; the
runs it shows can then be reviewed (history, show, report, verify) and an
interrupted one carried on (resume RUN --take-over "reason").

URL is the replica the console wrote to, as Litestream takes it:
  file:///mnt/site-a/repli         a directory (a mount)
  sftp://user@host/path            over SSH; the host key must be in
                                   ~/.ssh/known_hosts (or --host-key)
  s3://bucket/path                 an S3-compatible store (credentials in
                                   the environment, as for aws)

It never overwrites: --db must not hold a trail yet.`,
		Example: `  repli trail restore file:///mnt/site-a/repli --db ~/dr/audit.db
  repli trail restore sftp://repli@console-b.example/srv/repli/site-a`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			path := dbPath(db)
			start := time.Now()
			if err := replica.Restore(ctx, args[0], path, o); err != nil {
				return withCode(exitFailed, err)
			}
			took := time.Since(start)
			s, err := openForReview(ctx, path)
			if err != nil {
				return err
			}
			defer s.Close()
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "restored %s from %s in %s\n", path, replica.Redact(args[0]), took.Round(time.Millisecond))
			v, err := s.Verify(ctx, 0)
			if err != nil {
				return withCode(exitFailed, fmt.Errorf("verify the restored trail: %w", err))
			}
			if !v.OK {
				fmt.Fprintf(out, "TAMPERED (%s): %s\n", v.Break, v.Problem)
				return withCode(exitFailed, fmt.Errorf("the restored trail does not verify: keep it as evidence, and do not resume from it"))
			}
			fmt.Fprintf(out, "ok: %d events, chain intact; head event %d hash %s\n", v.Events, v.HeadID, v.Head)
			runs, err := s.Runs(ctx)
			if err != nil {
				return withCode(exitFailed, err)
			}
			for _, r := range runs {
				if r.EndedAt == nil {
					fmt.Fprintf(out, "run %d (%s) did not end: carry it on with  repli resume %d --take-over \"site lost\" --db %s\n",
						r.ID, replica.Clean(r.Runbook), r.ID, path)
				}
			}
			fmt.Fprintf(out, "next: repli history --db %s\n", path)
			return nil
		},
	}
	dbFlag(cmd, &db)
	cmd.Flags().StringVar(&o.KeyPath, "identity", o.KeyPath, "sftp: private key to log in with, without passphrase ($REPLI_REPLICA_IDENTITY, else ~/.ssh/id_ed25519, id_ecdsa, id_rsa)")
	cmd.Flags().StringVar(&o.HostKey, "host-key", o.HostKey, "sftp: the server's public key, as in known_hosts (\"ssh-ed25519 AAAA…\"); default $REPLI_REPLICA_HOST_KEY, else from --known-hosts")
	cmd.Flags().StringVar(&o.KnownHosts, "known-hosts", "", "sftp: where to look the host key up (default ~/.ssh/known_hosts)")
	return cmd
}
