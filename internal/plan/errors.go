// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package plan

import "errors"

// ErrorKind is the class of an error of a row or of a cycle: the log's
// error_type and multinic_errors_total's label.
type ErrorKind string

// The kinds: a row's plan (Validation, Protected, Conflict), its NIC
// (NICMissing), its transaction (Apply, Activation, Verify,
// Connectivity), and a cycle that could not read (Database, Node).
const (
	Validation   ErrorKind = "validation"   // the row's data is wrong
	Protected    ErrorKind = "protected"    // its NIC must not be touched
	Conflict     ErrorKind = "conflict"     // another file or configuration, or no free name
	NICMissing   ErrorKind = "nic_missing"  // no NIC with its MAC
	Apply        ErrorKind = "apply"        // a change failed
	Activation   ErrorKind = "activation"   // the backend's tool failed
	Verify       ErrorKind = "verify"       // the read-back differs
	Connectivity ErrorKind = "connectivity" // the node lost the database or a gateway
	Database     ErrorKind = "database"     // the database could not be read or written
	Node         ErrorKind = "node"         // the node could not be read
)

// ErrorKinds are every ErrorKind, in the order metrics list them.
var ErrorKinds = []ErrorKind{Validation, Protected, Conflict, NICMissing, Apply, Activation, Verify, Connectivity, Database, Node}

// Error is an error with its ErrorKind; errors.As (or KindOf) reads it through
// any wrapping.
type Error struct {
	Kind ErrorKind
	Err  error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Classed returns err with kind k (nil for a nil err).
func Classed(k ErrorKind, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Kind: k, Err: err}
}

// KindOf returns the kind of err, "" when it has none.
func KindOf(err error) ErrorKind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return ""
}
