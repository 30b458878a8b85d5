package bencode

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// Marshaler is implemented by types that encode themselves. The result must
// be one valid bencoded value.
type Marshaler interface {
	MarshalBencode() ([]byte, error)
}

// ErrUnsupported is returned by Marshal for Go values with no bencoding
// (floats, channels, functions, maps with non-string keys, nil).
var ErrUnsupported = errors.New("bencode: unsupported type")

// Marshal returns the canonical bencoding of v.
//
// Integers (and bools, as 0 or 1) become integers; strings, byte slices and
// byte arrays become strings; other slices and arrays become lists; maps with
// string keys and structs become dictionaries with sorted keys. Struct fields
// are named by their `bencode:"name"` tag, or by the field name; ",omitempty"
// drops a zero field and "-" skips one. A Value is written as its raw bytes.
func Marshal(v any) ([]byte, error) {
	return Append(nil, v)
}

// Append appends the bencoding of v to dst, as Marshal does.
func Append(dst []byte, v any) ([]byte, error) {
	return appendValue(dst, reflect.ValueOf(v))
}

// AppendInt appends the bencoding of an integer.
func AppendInt(dst []byte, n int64) []byte {
	dst = append(dst, 'i')
	dst = strconv.AppendInt(dst, n, 10)
	return append(dst, 'e')
}

// AppendString appends the bencoding of a string.
func AppendString(dst []byte, s string) []byte {
	dst = strconv.AppendInt(dst, int64(len(s)), 10)
	dst = append(dst, ':')
	return append(dst, s...)
}

// AppendBytes appends the bencoding of a byte string.
func AppendBytes(dst, b []byte) []byte {
	dst = strconv.AppendInt(dst, int64(len(b)), 10)
	dst = append(dst, ':')
	return append(dst, b...)
}

var (
	valueType     = reflect.TypeFor[Value]()
	marshalerType = reflect.TypeFor[Marshaler]()
)

func appendValue(dst []byte, rv reflect.Value) ([]byte, error) {
	if !rv.IsValid() {
		return nil, fmt.Errorf("%w: nil", ErrUnsupported)
	}
	if rv.Type() == valueType {
		raw := rv.Interface().(Value).raw
		if len(raw) == 0 {
			return nil, fmt.Errorf("%w: invalid Value", ErrUnsupported)
		}
		return append(dst, raw...), nil
	}
	if rv.Type().Implements(marshalerType) {
		if rv.Kind() == reflect.Pointer && rv.IsNil() {
			return nil, fmt.Errorf("%w: nil %s", ErrUnsupported, rv.Type())
		}
		b, err := rv.Interface().(Marshaler).MarshalBencode()
		if err != nil {
			return nil, fmt.Errorf("bencode: marshal %s: %w", rv.Type(), err)
		}
		return append(dst, b...), nil
	}
	switch rv.Kind() {
	case reflect.Bool:
		if rv.Bool() {
			return AppendInt(dst, 1), nil
		}
		return AppendInt(dst, 0), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return AppendInt(dst, rv.Int()), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		u := rv.Uint()
		if u > 1<<63-1 {
			return nil, fmt.Errorf("%w: %d overflows int64", ErrUnsupported, u)
		}
		return AppendInt(dst, int64(u)), nil
	case reflect.String:
		return AppendString(dst, rv.String()), nil
	case reflect.Slice, reflect.Array:
		if rv.Type().Elem().Kind() == reflect.Uint8 {
			if rv.Kind() == reflect.Slice {
				return AppendBytes(dst, rv.Bytes()), nil
			}
			dst = strconv.AppendInt(dst, int64(rv.Len()), 10)
			dst = append(dst, ':')
			for i := range rv.Len() {
				dst = append(dst, byte(rv.Index(i).Uint()))
			}
			return dst, nil
		}
		dst = append(dst, 'l')
		for i := range rv.Len() {
			var err error
			if dst, err = appendValue(dst, rv.Index(i)); err != nil {
				return nil, err
			}
		}
		return append(dst, 'e'), nil
	case reflect.Map:
		return appendMap(dst, rv)
	case reflect.Struct:
		return appendStruct(dst, rv)
	case reflect.Pointer, reflect.Interface:
		return appendValue(dst, rv.Elem())
	}
	return nil, fmt.Errorf("%w: %s", ErrUnsupported, rv.Type())
}

func appendMap(dst []byte, rv reflect.Value) ([]byte, error) {
	if rv.Type().Key().Kind() != reflect.String {
		return nil, fmt.Errorf("%w: map key %s", ErrUnsupported, rv.Type().Key())
	}
	keys := rv.MapKeys()
	slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(a.String(), b.String()) })
	dst = append(dst, 'd')
	for _, k := range keys {
		dst = AppendString(dst, k.String())
		var err error
		if dst, err = appendValue(dst, rv.MapIndex(k)); err != nil {
			return nil, err
		}
	}
	return append(dst, 'e'), nil
}

type field struct {
	key   string
	value reflect.Value
}

func appendStruct(dst []byte, rv reflect.Value) ([]byte, error) {
	t := rv.Type()
	fields := make([]field, 0, t.NumField())
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(sf.Tag.Get("bencode"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		fv := rv.Field(i)
		if opts == "omitempty" && isEmpty(fv) {
			continue
		}
		fields = append(fields, field{name, fv})
	}
	slices.SortFunc(fields, func(a, b field) int { return strings.Compare(a.key, b.key) })
	dst = append(dst, 'd')
	for i, f := range fields {
		if i > 0 && fields[i-1].key == f.key {
			return nil, fmt.Errorf("%w: %s has two fields named %q", ErrUnsupported, t, f.key)
		}
		dst = AppendString(dst, f.key)
		var err error
		if dst, err = appendValue(dst, f.value); err != nil {
			return nil, fmt.Errorf("field %q: %w", f.key, err)
		}
	}
	return append(dst, 'e'), nil
}

func isEmpty(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Slice, reflect.Map, reflect.String:
		return v.Len() == 0
	case reflect.Pointer, reflect.Interface:
		return v.IsNil()
	case reflect.Struct:
		if v.Type() == valueType {
			return len(v.Interface().(Value).raw) == 0
		}
	}
	return v.IsZero()
}
