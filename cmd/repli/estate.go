package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/spf13/cobra"

	"github.com/repli-dr/repli/internal/config"
	"github.com/repli-dr/repli/runbooks"
	"github.com/repli-dr/repli/runbooks/examples"
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

// resolveRunbook finds a runbook's text: a file path as given, else NAME.yaml
// (or .yml) in the runbook directories, else the bundled runbook NAME. Every
// command that takes a runbook takes it through here.
func resolveRunbook(arg string) (file string, src []byte, err error) {
	b, ferr := readRunbookFile(arg)
	if ferr == nil {
		return arg, b, nil
	}
	if !errors.Is(ferr, fs.ErrNotExist) {
		return "", nil, fmt.Errorf("runbook %s: cannot read it: %w", arg, ferr)
	}
	name := strings.TrimSuffix(strings.TrimSuffix(arg, ".yaml"), ".yml")
	if !strings.ContainsRune(name, filepath.Separator) {
		for _, dir := range runbookDirs() {
			for _, ext := range []string{".yaml", ".yml"} {
				p := filepath.Join(dir, name+ext)
				if b, err := readRunbookFile(p); err == nil {
					return p, b, nil
				}
			}
		}
		if f, s, err := examples.Source(name); err == nil {
			return f, s, nil
		}
	}
	where := "no bundled runbook has that name (bundled: " + strings.Join(examples.Names(), ", ") + ")"
	if dirs := runbookDirs(); len(dirs) > 0 {
		where = "none in " + strings.Join(dirs, ", ") + ", and " + where
	}
	return "", nil, fmt.Errorf("runbook %s: no such file, %s", arg, where)
}

// readRunbookFile reads a runbook, no more than the parser accepts (it
// refuses a longer one).
func readRunbookFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, runbooks.MaxFileSize+1))
}

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

// configureSites gives a site the runbook names without a URI the config's
// URI(s) (flag > environment > runbook > user config > system config), and
// resolves libvirt uri_aliases in every site's URIs, as virsh would.
func configureSites(rb *runbooks.Runbook) error {
	c := configOrEmpty()
	for _, s := range rb.Sites {
		if s.URI == "" {
			if cs, _, ok := c.Site(s.Name); ok {
				s.URIs = append([]string(nil), cs.List()...)
				s.URI = s.URIs[0]
			}
		}
		for i, u := range s.URIs {
			r, err := resolveSiteURI(u)
			if err != nil {
				return err
			}
			s.URIs[i] = r
		}
		if len(s.URIs) > 0 {
			s.URI = s.URIs[0]
		}
	}
	return nil
}

// resolveSiteURI resolves a libvirt uri_aliases name (libvirt.conf) to its URI.
func resolveSiteURI(uri string) (string, error) {
	r, err := config.ResolveURI(uri)
	if err != nil {
		return "", withCode(exitUsage, fmt.Errorf("resolve site URI %q: %w", uri, err))
	}
	return r, nil
}

// requireSiteURIs refuses to connect when a site still has no URI: the
// runbook names it only and neither --site nor a config file gives one.
func requireSiteURIs(rb *runbooks.Runbook, uris map[string]string) error {
	var missing []string
	for _, s := range rb.Sites {
		if uris[s.Name] == "" {
			missing = append(missing, s.Name)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	c := configOrEmpty()
	read := []string{}
	for _, f := range c.Files {
		read = append(read, shortHome(f.Path()))
	}
	what := "no config file was found"
	if len(read) > 0 {
		what = "the config (" + strings.Join(read, ", ") + ") does not give it"
	}
	ex := missing[0]
	return withCode(exitUsage, fmt.Errorf("site %s has no URI: the runbook names it only and %s; add \"sites: {%s: {uri: qemu+ssh://HOST/system}}\" to %s, or give --site %s=URI",
		strings.Join(missing, ", "), what, ex, shortHome(config.UserPath(nil)), ex))
}
