package settings

// Lift makes settings of C into settings of D, whose field returns the C
// inside a D (hub.Config embeds ssevents.Config).
func Lift[C, D any](list []Setting[C], field func(*D) *C) []Setting[D] {
	out := make([]Setting[D], len(list))
	for i, s := range list {
		out[i] = Setting[D]{Spec: s.Spec, Kind: s.Kind,
			apply: func(d *D, v string) error { return s.apply(field(d), v) },
			check: func(d *D) error { return s.check(field(d)) }}
	}
	return out
}

// ApplyLookup sets the fields of c for which lookup has a non-empty
// variable, in the order of list, leaving the others as they are. It
// returns the first invalid value's error.
func ApplyLookup[C any](c *C, list []Setting[C], lookup func(string) (string, bool)) error {
	for _, s := range list {
		v, ok := lookup(s.Name)
		if !ok || v == "" {
			continue
		}
		if err := s.apply(c, v); err != nil {
			return err
		}
	}
	return nil
}

// Validate returns the error of the first setting in list whose field of c
// holds a value the setting does not allow.
func Validate[C any](c *C, list []Setting[C]) error {
	for _, s := range list {
		if err := s.check(c); err != nil {
			return err
		}
	}
	return nil
}
