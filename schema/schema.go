// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

// Package schema ships the controller's table definitions (schema.sql) for
// tests, the demo and operators. The agent itself never runs it.
package schema

import _ "embed"

// SQL is schema.sql: one CREATE TABLE statement per table, separated by ";".
//
//go:embed schema.sql
var SQL string
