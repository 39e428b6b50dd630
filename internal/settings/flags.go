package settings

import (
	"flag"
	"fmt"
	"io"
)

// flagValue is the flag of a setting: it keeps the text given, which is
// parsed with the variables (a flag wins over its variable). A KindBool
// flag may be given alone (--demo is --demo=true).
type flagValue struct {
	value  string
	set    bool
	isBool bool
}

// String implements flag.Value.
func (f *flagValue) String() string { return f.value }

// Set implements flag.Value.
func (f *flagValue) Set(v string) error { f.value, f.set = v, true; return nil }

// IsBoolFlag tells package flag whether the flag may be given alone.
func (f *flagValue) IsBoolFlag() bool { return f.isBool }

// DefineFlags defines a flag on fs for every setting of list and returns a
// lookup that answers the flag's value when it was given and asks env
// otherwise; pass it to ApplyLookup after fs.Parse.
func DefineFlags[C any](fs *flag.FlagSet, list []Setting[C], env func(string) (string, bool)) func(string) (string, bool) {
	flags := make(map[string]*flagValue, len(list))
	for _, s := range list {
		f := &flagValue{isBool: s.Kind == KindBool}
		flags[s.Name] = f
		fs.Var(f, s.Flag(), s.Usage)
	}
	return func(name string) (string, bool) {
		if f := flags[name]; f != nil && f.set {
			return f.value, true
		}
		return env(name)
	}
}

// PrintUsage writes every setting of list with its flag, variable, default
// and allowed values, two lines each.
func PrintUsage[C any](w io.Writer, list []Setting[C]) {
	for _, s := range list {
		_, _ = fmt.Fprintf(w, "  --%s  (env %s)\n", s.Flag(), s.Name)
		_, _ = fmt.Fprintf(w, "        %s; default %s; allowed: %s\n", s.Usage, s.DefaultText(), s.AllowedText())
	}
}
