package storage

// Validation errors and the messages Django REST framework words them with.

import (
	"errors"
	"strings"
)

// Messages worded as Django REST framework words them, so clients that show
// Label Studio's errors show ours the same way.
const (
	msgRequired   = "This field is required."
	msgNull       = "This field may not be null."
	msgBlank      = "This field may not be blank."
	msgString     = "Not a valid string."
	msgInteger    = "A valid integer is required."
	msgBoolean    = "Must be a valid boolean."
	msgDatetime   = "Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."
	msgMaxLength  = "Ensure this field has no more than %d characters."
	msgMinValue   = "Ensure this value is greater than or equal to %d."
	msgMaxValue   = "Ensure this value is less than or equal to %d."
	msgChoice     = "\"%s\" is not a valid choice."
	msgPkType     = "Incorrect type. Expected pk value, received %s."
	msgPkMissing  = "Invalid pk \"%s\" - object does not exist."
	msgIntLength  = "String value too large."
	msgRequiredBy = "This field is required when auth_type is \"%s\"."
	msgSpoofing   = "Must not contain bidirectional control characters or zero-width characters."
	msgNullChar   = "Null characters are not allowed."
	msgSurrogate  = "Surrogate characters are not allowed: U+%X."
)

// ErrMalformed is wrapped by DecodeRequest when the body is not a JSON object.
var ErrMalformed = errors.New("malformed request body")

// ValidationError lists every field problem of a request at once, keyed by
// field name (non_field_errors for problems of no single field). Names
// gives the fields in the order Label Studio lists them.
type ValidationError struct {
	Fields map[string][]string
}

// Names returns the fields with problems in the order Label Studio lists
// them (see SortFieldNames).
func (e *ValidationError) Names() []string {
	names := make([]string, 0, len(e.Fields))
	for name := range e.Fields {
		names = append(names, name)
	}
	SortFieldNames(names)
	return names
}

func (e *ValidationError) Error() string {
	return "invalid request: " + strings.Join(e.Names(), ", ")
}

func (e *ValidationError) add(field, msg string) {
	if e.Fields == nil {
		e.Fields = map[string][]string{}
	}
	e.Fields[field] = append(e.Fields[field], msg)
}
