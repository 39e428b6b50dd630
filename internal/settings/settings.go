package settings

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ssevents/ssevents/sse"
)

// Kind is the type of a setting's value.
type Kind int

// The kinds of settings.
const (
	// KindInt is an integer from Min to Max, counting Unit.
	KindInt Kind = iota
	// KindDuration is an integer from Min to Max of seconds or
	// milliseconds (Unit "s" or "ms"), set on a time.Duration field.
	KindDuration
	// KindBool is true or false (anything strconv.ParseBool accepts); its
	// flag may be given alone.
	KindBool
	// KindString is free text, accepted by Check when set.
	KindString
	// KindEnum is one of Values (case-insensitive).
	KindEnum
	// KindList is comma-separated items, each accepted by Check.
	KindList
)

// Spec is what a setting declares besides its kind and field.
type Spec struct {
	// Name is the environment variable, e.g. "SSE_MAX_CONNECTIONS"; the
	// flag is derived from it (Flag).
	Name string
	// Field is the Go field the setting fills, e.g. "MaxConnections".
	Field string
	// Default is the value used when the setting is not given, written as
	// the variable would be ("15" for 15 s); "" for none.
	Default string
	// Usage says what the setting does.
	Usage string
	// Allowed describes the accepted values of KindString and KindList
	// settings; the other kinds derive it.
	Allowed string
	// Min and Max bound KindInt and KindDuration values.
	Min, Max int
	// Unit is what a KindInt counts ("bytes"), or "s" or "ms" for a
	// KindDuration.
	Unit string
	// Values are the choices of a KindEnum.
	Values []string
	// Check accepts or rejects a KindString value or a KindList item.
	Check func(string) error
	// Secret keeps the value out of error messages.
	Secret bool
	// OffAtZero: for a KindDuration whose field's zero means the default,
	// the value 0 stores -1 (off) and any negative field value is valid.
	OffAtZero bool
}

// Setting is one declared setting of a configuration type C: its Spec and
// how it reads and checks its field of C.
type Setting[C any] struct {
	Spec
	// Kind is the type of the setting's value.
	Kind  Kind
	apply func(c *C, v string) error // parse v and set the field
	check func(c *C) error           // validate the field's value
}

// Flag is the flag of the setting: SSE_JWT_SECRET is "jwt-secret".
func (s Setting[C]) Flag() string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(s.Name, "SSE_")), "_", "-")
}

// AllowedText describes the accepted values, e.g. "integer 1 to 1000".
func (s Setting[C]) AllowedText() string {
	switch s.Kind {
	case KindInt, KindDuration:
		return strings.TrimSpace(fmt.Sprintf("integer %d to %d %s", s.Min, s.Max, s.Unit))
	case KindBool:
		return "true or false"
	case KindEnum:
		return orList(s.Values)
	}
	return s.Allowed
}

// DefaultText is the default as the help and the README show it: "none",
// or the value with its unit ("15 s").
func (s Setting[C]) DefaultText() string {
	if s.Default == "" {
		return "none"
	}
	if (s.Kind == KindInt || s.Kind == KindDuration) && s.Unit != "" {
		return s.Default + " " + s.Unit
	}
	return s.Default
}

// Apply parses v and sets the setting's field of c. An invalid value is an
// error wrapping sse.ErrInvalidConfig that names the variable and what is
// allowed.
func (s Setting[C]) Apply(c *C, v string) error { return s.apply(c, v) }

// Validate reports whether the setting's field of c holds an allowed value,
// as an error wrapping sse.ErrInvalidConfig naming the field.
func (s Setting[C]) Validate(c *C) error { return s.check(c) }

// orList joins values as "a, b or c".
func orList(values []string) string {
	if len(values) < 2 {
		return strings.Join(values, "")
	}
	return strings.Join(values[:len(values)-1], ", ") + " or " + values[len(values)-1]
}

// invalid is the error of a variable's value. A password in a URL value
// is not shown.
func (s Spec) invalid(v string, want error) error {
	if s.Secret {
		return &valueError{fmt.Sprintf("%s: %s ", sse.ErrInvalidConfig, s.Name), want}
	}
	return &valueError{fmt.Sprintf("%s: %s=%q: ", sse.ErrInvalidConfig, s.Name, redactURL(v)), want}
}

// outOfRange is the error of a field's value.
func (s Spec) outOfRange(v any, want error) error {
	if s.Secret {
		return &valueError{fmt.Sprintf("%s: %s ", sse.ErrInvalidConfig, s.Field), want}
	}
	if str, ok := v.(string); ok {
		v = redactURL(str)
	}
	return &valueError{fmt.Sprintf("%s: %s is %v: ", sse.ErrInvalidConfig, s.Field, v), want}
}

// valueError is an invalid setting: it wraps sse.ErrInvalidConfig and the
// reason, whose own "ssevents: " (or "ssevents: invalid configuration: ")
// prefix it drops so that the message does not stutter.
type valueError struct {
	prefix string // "ssevents: invalid configuration: SSE_X="v": "
	reason error
}

func (e *valueError) Error() string {
	reason := strings.TrimPrefix(e.reason.Error(), sse.ErrInvalidConfig.Error()+": ")
	return e.prefix + strings.TrimPrefix(reason, "ssevents: ")
}

func (e *valueError) Unwrap() []error { return []error{sse.ErrInvalidConfig, e.reason} }

// redactURL hides the password of a URL value ("redis://:xxxxx@host");
// other values are returned as they are.
func redactURL(v string) string {
	u, err := url.Parse(strings.Trim(v, `"`))
	if err != nil || u.User == nil {
		return v
	}
	if _, ok := u.User.Password(); !ok {
		return v
	}
	r := u.Redacted()
	if strings.HasPrefix(v, `"`) {
		return strconv.Quote(r)
	}
	return r
}

// parseInt parses an integer from s.Min to s.Max.
func (s Spec) parseInt(v string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < s.Min || n > s.Max {
		return 0, s.invalid(v, fmt.Errorf("want an integer from %d to %d", s.Min, s.Max))
	}
	return n, nil
}

// Int declares an integer setting on the field field returns.
func Int[C any](s Spec, field func(*C) *int) Setting[C] {
	return Setting[C]{Spec: s, Kind: KindInt,
		apply: func(c *C, v string) error {
			n, err := s.parseInt(v)
			if err == nil {
				*field(c) = n
			}
			return err
		},
		check: func(c *C) error {
			if n := *field(c); n < s.Min || n > s.Max {
				return s.outOfRange(n, fmt.Errorf("want %d to %d", s.Min, s.Max))
			}
			return nil
		}}
}

// unitOf is the time.Duration of a KindDuration unit.
func unitOf(unit string) time.Duration {
	switch unit {
	case "s":
		return time.Second
	case "ms":
		return time.Millisecond
	}
	panic("settings: duration unit " + strconv.Quote(unit) + " is not s or ms")
}

// Duration declares a setting of whole seconds or milliseconds (Spec.Unit
// "s" or "ms") on the time.Duration field field returns.
func Duration[C any](s Spec, field func(*C) *time.Duration) Setting[C] {
	unit := unitOf(s.Unit)
	lo, hi := time.Duration(s.Min)*unit, time.Duration(s.Max)*unit
	return Setting[C]{Spec: s, Kind: KindDuration,
		apply: func(c *C, v string) error {
			n, err := s.parseInt(v)
			if err != nil {
				return err
			}
			*field(c) = time.Duration(n) * unit
			if n == 0 && s.OffAtZero {
				*field(c) = -1
			}
			return nil
		},
		check: func(c *C) error {
			d := *field(c)
			if (d < lo || d > hi) && !(s.OffAtZero && d < 0) {
				return s.outOfRange(d, fmt.Errorf("want %v to %v", lo, hi))
			}
			return nil
		}}
}

// Bool declares a true/false setting. With negate, the field holds the
// opposite of the value (SSE_DEMO=false sets DisableDemo).
func Bool[C any](s Spec, negate bool, field func(*C) *bool) Setting[C] {
	return Setting[C]{Spec: s, Kind: KindBool,
		apply: func(c *C, v string) error {
			b, err := strconv.ParseBool(strings.TrimSpace(v))
			if err != nil {
				return s.invalid(v, errors.New("want true or false"))
			}
			*field(c) = b != negate
			return nil
		},
		check: func(*C) error { return nil }}
}

// String declares a text setting; a non-empty value must pass s.Check.
func String[C any](s Spec, field func(*C) *string) Setting[C] {
	return Setting[C]{Spec: s, Kind: KindString,
		apply: func(c *C, v string) error {
			if !s.Secret { // a secret is taken as given
				v = strings.TrimSpace(v)
			}
			if s.Check != nil && v != "" {
				if err := s.Check(v); err != nil {
					return s.invalid(v, err)
				}
			}
			*field(c) = v
			return nil
		},
		check: func(c *C) error {
			if v := *field(c); v != "" && s.Check != nil {
				if err := s.Check(v); err != nil {
					return s.outOfRange(strconv.Quote(v), err)
				}
			}
			return nil
		}}
}

// Enum declares a setting that is one of s.Values; the field gets the
// value as declared (matching is case-insensitive).
func Enum[C any](s Spec, field func(*C) *string) Setting[C] {
	return Setting[C]{Spec: s, Kind: KindEnum,
		apply: func(c *C, v string) error {
			for _, want := range s.Values {
				if strings.EqualFold(strings.TrimSpace(v), want) {
					*field(c) = want
					return nil
				}
			}
			return s.invalid(v, errors.New("want "+orList(s.Values)))
		},
		check: func(c *C) error {
			v := *field(c)
			for _, want := range s.Values {
				if v == "" || v == want {
					return nil
				}
			}
			return s.outOfRange(strconv.Quote(v), errors.New("want "+orList(s.Values)))
		}}
}

// List declares a setting of comma-separated items, each of which must
// pass s.Check.
func List[C any](s Spec, field func(*C) *[]string) Setting[C] {
	return Setting[C]{Spec: s, Kind: KindList,
		apply: func(c *C, v string) error {
			items := splitList(v)
			if err := s.checkItems(items); err != nil {
				return s.invalid(v, err)
			}
			*field(c) = items
			return nil
		},
		check: func(c *C) error {
			items := *field(c)
			if err := s.checkItems(items); err != nil {
				return s.outOfRange(fmt.Sprintf("%q", items), err)
			}
			return nil
		}}
}

// checkItems runs s.Check on every item.
func (s Spec) checkItems(items []string) error {
	if s.Check == nil {
		return nil
	}
	for _, item := range items {
		if err := s.Check(item); err != nil {
			return err
		}
	}
	return nil
}

// splitList splits a comma-separated list, trimming blanks and dropping
// empty items: " a, ,b" is ["a" "b"].
func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}
