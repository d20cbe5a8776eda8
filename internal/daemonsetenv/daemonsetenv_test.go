// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package daemonsetenv

import (
	"os"
	"strings"
	"testing"
)

func read(t *testing.T, input, ds, container string) (Env, error) {
	t.Helper()
	return Read(strings.NewReader(input), ds, container)
}

func fixture(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("testdata/kubectl-get.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestResolvesThePreviousAgentsDaemonSet(t *testing.T) {
	env, err := read(t, fixture(t), "", "")
	if err != nil {
		t.Fatal(err)
	}
	if env.Namespace != "multinic-system" || env.DaemonSet != "multinic-agent" || env.Container != "multinic-agent" {
		t.Errorf("found %s/%s container %s", env.Namespace, env.DaemonSet, env.Container)
	}
	got := map[string]Var{}
	for _, v := range env.Vars {
		got[v.Name] = v
	}
	if v := got["DB_PASSWORD"]; v.Value != `p@ss'w"rd $1` || v.From != "Secret multinic-agent-db, key password" {
		t.Errorf("DB_PASSWORD resolved to %+v", v)
	}
	if v := got["NODE_NAME"]; v.Field != "spec.nodeName" || v.Value != "" {
		t.Errorf("NODE_NAME resolved to %+v", v)
	}
	if got["DB_HOST"].Value != "192.168.34.79" || got["DB_PORT"].Value != "30305" || got["MAX_RETRIES"].Value != "3" {
		t.Errorf("literal values: %+v", env.Vars)
	}
	if env.Vars[0].Name != "DB_HOST" || len(env.Vars) != 14 {
		t.Errorf("order or count of variables: %+v", env.Vars)
	}
}

func TestEnvFromAndPrecedence(t *testing.T) {
	in := `apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: ops}
spec:
  template:
    spec:
      containers:
      - name: sidecar
        image: busybox
      - name: multinic-agent
        envFrom:
        - configMapRef: {name: agent-settings}
        - secretRef: {name: agent-secrets}
          prefix: DB_
        env:
        - {name: POLL_INTERVAL, value: 10s}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: agent-settings, namespace: ops}
data: {POLL_INTERVAL: 60s, DB_HOST: db.ops.svc.cluster.local}
---
apiVersion: v1
kind: Secret
metadata: {name: agent-secrets, namespace: ops}
data: {PASSWORD: aHVudGVyMg==}
`
	env, err := read(t, in, "", "")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, v := range env.Vars {
		got[v.Name] = v.Value
	}
	if got["POLL_INTERVAL"] != "10s" || got["DB_HOST"] != "db.ops.svc.cluster.local" || got["DB_PASSWORD"] != "hunter2" {
		t.Errorf("resolved %v", got)
	}
}

func TestErrorsNameWhatIsMissing(t *testing.T) {
	full := fixture(t)
	secretAt := strings.Index(full, "- apiVersion: v1\n  data:\n    password:")
	noSecret := full[:secretAt] + "kind: List\n"
	cases := []struct {
		name, input, ds, container, want string
	}{
		{"no DaemonSet", "apiVersion: v1\nkind: Secret\nmetadata: {name: x}\n", "", "", "no DaemonSet in the input: pipe `kubectl get daemonset,secret,configmap"},
		{"the Secret was not exported", noSecret, "", "", "DB_PASSWORD: the container refers to Secret \"multinic-agent-db\", which is not in the input: add it (kubectl get secret -n multinic-system multinic-agent-db -o yaml)"},
		{"another DaemonSet named", full, "other", "", `no DaemonSet "other"`},
		{"another container named", full, "", "agent", `has no container "agent" (it has multinic-agent)`},
		{"not YAML", "kind: [", "", "", "document 1 of the input is not Kubernetes YAML"},
		{"a Secret that is not base64", strings.Replace(full, "cEBzcyd3InJkICQx", "not!base64", 1), "", "", `key "password" of Secret "multinic-agent-db" is not base64`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := read(t, c.input, c.ds, c.container)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want %q", err, c.want)
			}
		})
	}
}
