package main

import (
	"fmt"
	"os"
	"sync"

	"github.com/spf13/cobra"

	"github.com/repli-dr/repli/internal/catalog"
	"github.com/repli-dr/repli/internal/config"
	"github.com/repli-dr/repli/runbooks"
	"github.com/repli-dr/repli/store"
)

// estate is the configuration this process runs with, loaded once from the
// file chosen with --config (or $REPLI_CONFIG, or the user's over the
// system's). It is a process-wide value because loadRunbook and dbPath,
// called from every command, take no command to read flags from.
var estate struct {
	sync.Mutex
	path   string
	loaded bool
	cfg    *config.Config
	err    error
}

// configFlag adds the persistent --config flag to the root command and loads
// the configuration before any command runs: a broken config file is a usage
// error named once, up front.
func configFlag(root *cobra.Command) {
	root.PersistentFlags().String("config", "", "configuration file (default $REPLI_CONFIG, else "+shortHome(config.UserPath(nil))+" over "+config.SystemPath+")")
	root.PersistentPreRunE = func(cmd *cobra.Command, args []string) error {
		useConfigFlag(cmd)
		if _, err := estateConfig(); err != nil {
			return withCode(exitUsage, fmt.Errorf("%w; fix the file, or choose another with --config FILE (--config /dev/null for none)", err))
		}
		return nil
	}
}

// estateConfig is the loaded configuration.
func estateConfig() (*config.Config, error) {
	estate.Lock()
	defer estate.Unlock()
	if !estate.loaded {
		estate.cfg, estate.err = config.Load(config.Options{Path: estate.path})
		estate.loaded = true
	}
	return estate.cfg, estate.err
}

// configOrEmpty is the configuration, or none when it cannot be read (shell
// completion must not fail on a broken file).
func configOrEmpty() *config.Config {
	c, err := estateConfig()
	if err != nil || c == nil {
		c, _ = config.Load(config.Options{Path: os.DevNull})
	}
	return c
}

// dbPath is the audit trail: --db, else $REPLI_DB, else the config's db,
// else the XDG state directory.
func dbPath(flag string) string {
	if flag != "" {
		return flag
	}
	if v := configOrEmpty().Resolve(config.KeyDB, config.Inputs{}); v.Set() {
		return v.Values[0]
	}
	return store.DefaultPath()
}

// runbookDirs are the directories searched for a runbook given by name:
// $REPLI_RUNBOOKS, else the config's runbooks.
func runbookDirs() []string {
	return configOrEmpty().Resolve(config.KeyRunbooks, config.Inputs{}).Values
}

// resolveRunbook finds a runbook's text in the runbook directories
// (catalog.Find). Every command that takes a runbook takes it through here.
func resolveRunbook(arg string) (file string, src []byte, err error) {
	return catalog.Find(arg, runbookDirs())
}

// readRunbookFile reads a runbook, no more than the parser accepts.
func readRunbookFile(path string) ([]byte, error) { return catalog.ReadFile(path) }

// useConfigFlag loads the config named by --config for shell completion,
// which runs no PersistentPreRun.
func useConfigFlag(cmd *cobra.Command) {
	p, _ := cmd.Flags().GetString("config")
	estate.Lock()
	if !estate.loaded || estate.path != p {
		estate.path, estate.loaded = p, false
	}
	estate.Unlock()
}

// configureSites gives the runbook's sites their URIs from the config and
// resolves libvirt uri_aliases (config.ConfigureSites).
func configureSites(rb *runbooks.Runbook) error {
	if err := configOrEmpty().ConfigureSites(rb); err != nil {
		return withCode(exitUsage, err)
	}
	return nil
}

// requireSiteURIs refuses to connect when a site still has no URI.
func requireSiteURIs(rb *runbooks.Runbook, uris map[string]string) error {
	return withCode(exitUsage, configOrEmpty().RequireSiteURIs(rb, uris))
}

// resolveSiteURI resolves a libvirt uri_aliases name (libvirt.conf) to its URI.
func resolveSiteURI(uri string) (string, error) {
	r, err := config.ResolveSiteURI(uri)
	return r, withCode(exitUsage, err)
}
