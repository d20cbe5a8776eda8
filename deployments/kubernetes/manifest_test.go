// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

package kubernetes

import (
	"net/netip"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	psapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
	"sigs.k8s.io/yaml"
)

const manifest = "multinic-agent.yaml"

// objects is the manifest, each document strictly decoded into its
// Kubernetes API type: an unknown or misspelt field, a duplicate key or a
// value of the wrong type fails the decode, as `kubectl apply
// --validate=strict` would.
type objects struct {
	ns  *corev1.Namespace
	cm  *corev1.ConfigMap
	ds  *appsv1.DaemonSet
	all []metav1.Object
}

func decode(t *testing.T) objects {
	t.Helper()
	data, err := os.ReadFile(manifest)
	if err != nil {
		t.Fatal(err)
	}
	var o objects
	for i, doc := range regexp.MustCompile(`(?m)^---[ \t]*$`).Split(string(data), -1) {
		if strings.TrimSpace(regexp.MustCompile(`(?m)^\s*#.*$`).ReplaceAllString(doc, "")) == "" {
			continue
		}
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
			t.Fatalf("%s document %d: %v", manifest, i+1, err)
		}
		var obj metav1.Object
		switch tm.APIVersion + " " + tm.Kind {
		case "v1 Namespace":
			o.ns = &corev1.Namespace{}
			obj = o.ns
		case "v1 ConfigMap":
			o.cm = &corev1.ConfigMap{}
			obj = o.cm
		case "apps/v1 DaemonSet":
			o.ds = &appsv1.DaemonSet{}
			obj = o.ds
		case "v1 Secret":
			t.Fatalf("%s document %d is a Secret: the credentials are created with kubectl create secret, outside the manifest, so that applying it again never resets them", manifest, i+1)
		default:
			t.Fatalf("%s document %d: unexpected %s %s", manifest, i+1, tm.APIVersion, tm.Kind)
		}
		if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
			t.Fatalf("%s document %d (%s): strict decoding: %v", manifest, i+1, tm.Kind, err)
		}
		o.all = append(o.all, obj)
	}
	if o.ns == nil || o.cm == nil || o.ds == nil {
		t.Fatalf("%s: want a Namespace, a ConfigMap and a DaemonSet", manifest)
	}
	return o
}

func TestManifestDecodesStrictly(t *testing.T) {
	o := decode(t)
	for _, obj := range o.all[1:] {
		if obj.GetNamespace() != o.ns.Name {
			t.Errorf("%s is in namespace %q, not %q", obj.GetName(), obj.GetNamespace(), o.ns.Name)
		}
	}
	if got := o.ds.Spec.Selector.MatchLabels; !labelsMatch(got, o.ds.Spec.Template.Labels) {
		t.Errorf("the selector %v does not select the pod template's labels %v", got, o.ds.Spec.Template.Labels)
	}
}

func labelsMatch(sel, labels map[string]string) bool {
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return len(sel) > 0
}

// TestPodSecurity evaluates the pod with the Pod Security admission's own
// checks: the baseline level refuses it, for exactly the reasons an agent
// that configures the host's NICs has (host network, host paths,
// NET_ADMIN/NET_RAW, probes on the node's loopback), so the namespace is
// labelled privileged, on all three modes.
func TestPodSecurity(t *testing.T) {
	o := decode(t)
	for _, mode := range []string{"enforce", "audit", "warn"} {
		if got := o.ns.Labels["pod-security.kubernetes.io/"+mode]; got != "privileged" {
			t.Errorf("namespace label pod-security.kubernetes.io/%s=%q, want privileged", mode, got)
		}
	}
	eval, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := o.ds.Spec.Template
	check := func(level psapi.Level) policy.AggregateCheckResult {
		return policy.AggregateCheckResults(eval.EvaluatePod(psapi.LevelVersion{Level: level, Version: psapi.LatestVersion()}, &tmpl.ObjectMeta, &tmpl.Spec))
	}
	if r := check(psapi.LevelPrivileged); !r.Allowed {
		t.Errorf("the privileged level refuses the pod: %s", r.ForbiddenDetail())
	}
	r := check(psapi.LevelBaseline)
	if r.Allowed {
		t.Fatal("the baseline level admits the pod: the namespace would not need the privileged label")
	}
	reasons := strings.Split(r.ForbiddenReason(), ", ")
	sort.Strings(reasons)
	want := []string{"host namespaces", "hostPath volumes", "non-default capabilities", "probe or lifecycle host"}
	if !slices.Equal(reasons, want) {
		t.Errorf("baseline refuses the pod for %q, want exactly %q (anything else is not needed by the agent):\n%s", reasons, want, r.ForbiddenDetail())
	}
	t.Logf("baseline refuses the pod: %s", r.ForbiddenDetail())
}

// hostPaths the agent reads (ro) or writes (rw), as mounted under /host.
var hostPaths = map[string]string{
	"/etc/os-release":                        "ro",
	"/etc/systemd/system":                    "ro",
	"/etc/NetworkManager":                    "ro",
	"/etc/network":                           "ro",
	"/etc/network/interfaces.d":              "rw",
	"/usr/sbin":                              "ro",
	"/sbin":                                  "ro",
	"/usr/lib/systemd":                       "ro",
	"/lib/systemd":                           "ro",
	"/etc/netplan":                           "rw",
	"/etc/sysconfig/network-scripts":         "rw",
	"/etc/NetworkManager/system-connections": "rw",
	"/etc/systemd/network":                   "rw",
	"/var/lib/multinic-agent":                "rw",
	"/run":                                   "ro",
	"/run/multinic-agent.lock":               "rw",
	"/run/systemd":                           "rw",
	"/run/udev":                              "rw",
	"/proc/sys/net/ipv6/conf":                "rw",
}

func TestHostPathsAreOnlyWhatTheAgentWrites(t *testing.T) {
	o := decode(t)
	spec := o.ds.Spec.Template.Spec
	c := one(t, spec.Containers)
	volumes := map[string]corev1.Volume{}
	for _, v := range spec.Volumes {
		volumes[v.Name] = v
	}
	seen := map[string]bool{}
	for _, m := range c.VolumeMounts {
		v, ok := volumes[m.Name]
		if !ok {
			t.Errorf("mount %s names no volume", m.Name)
			continue
		}
		if v.HostPath == nil {
			if v.EmptyDir == nil || m.MountPath != "/tmp" {
				t.Errorf("volume %s: only host paths and an emptyDir /tmp are expected", m.Name)
			}
			continue
		}
		p := v.HostPath.Path
		access, ok := hostPaths[p]
		switch {
		case !ok:
			t.Errorf("host path %s is mounted, but the agent neither reads nor writes it", p)
			continue
		case m.MountPath != "/host"+p:
			t.Errorf("host path %s is mounted at %s, want /host%s (ROOT_DIR=/host)", p, m.MountPath, p)
		case access == "ro" && !m.ReadOnly:
			t.Errorf("host path %s is mounted read-write; the agent only reads it", p)
		case access == "rw" && m.ReadOnly:
			t.Errorf("host path %s is read-only; the agent writes it", p)
		}
		seen[p] = true
	}
	for p := range hostPaths {
		if !seen[p] {
			t.Errorf("host path %s is not mounted", p)
		}
	}
	// The systemd unit says what the agent writes (ReadWritePaths=,
	// StateDirectory=): the read-write mounts are those, no more, and every
	// configuration directory of the unit is one of them.
	unit, err := os.ReadFile("../systemd/multinic-agent.service")
	if err != nil {
		t.Fatal(err)
	}
	var writable []string
	for _, m := range regexp.MustCompile(`(?m)^ReadWritePaths=(.*)$`).FindAllStringSubmatch(string(unit), -1) {
		for _, p := range strings.Fields(m[1]) {
			writable = append(writable, strings.TrimPrefix(p, "-"))
		}
	}
	if m := regexp.MustCompile(`(?m)^StateDirectory=(\S+)$`).FindStringSubmatch(string(unit)); m != nil {
		writable = append(writable, "/var/lib/"+m[1])
	}
	for p, access := range hostPaths {
		if access != "rw" {
			continue
		}
		if !slices.ContainsFunc(writable, func(w string) bool { return p == w || strings.HasPrefix(p, w+"/") }) {
			t.Errorf("host path %s is mounted read-write, but the unit does not let the agent write it (ReadWritePaths %v)", p, writable)
		}
	}
	for _, w := range writable {
		if (strings.HasPrefix(w, "/etc/") || strings.HasPrefix(w, "/proc/")) && hostPaths[w] != "rw" {
			t.Errorf("the unit lets the agent write %s, which the DaemonSet does not mount read-write", w)
		}
	}
	if env := envOf(c); env["ROOT_DIR"] != "/host" {
		t.Errorf("ROOT_DIR=%q, want /host", env["ROOT_DIR"])
	}
}

func TestContainer(t *testing.T) {
	o := decode(t)
	spec := o.ds.Spec.Template.Spec
	c := one(t, spec.Containers)

	// Image: a version, not :latest.
	name, tag, ok := strings.Cut(c.Image[strings.LastIndex(c.Image, "/")+1:], ":")
	if !ok || tag == "" || strings.HasPrefix(tag, "latest") || name == "" {
		t.Errorf("image %q: want a pinned version tag (and digest), never latest", c.Image)
	}
	if c.ImagePullPolicy != corev1.PullIfNotPresent {
		t.Errorf("imagePullPolicy %q, want IfNotPresent", c.ImagePullPolicy)
	}

	// The health port: on the node's loopback, where the probes go.
	addr, err := netip.ParseAddr(o.cm.Data["HEALTH_ADDR"])
	if err != nil || !addr.IsLoopback() {
		t.Errorf("HEALTH_ADDR=%q: on the host's network the unauthenticated endpoint must not listen on every address", o.cm.Data["HEALTH_ADDR"])
	}
	port, _ := strconv.Atoi(o.cm.Data["HEALTH_PORT"])
	for name, p := range map[string]*corev1.Probe{"startup": c.StartupProbe, "liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
		want := map[string]string{"startup": "/healthz", "liveness": "/healthz", "readiness": "/readyz"}[name]
		if p == nil || p.HTTPGet == nil {
			t.Errorf("no %s probe", name)
			continue
		}
		if p.HTTPGet.Path != want || p.HTTPGet.Host != o.cm.Data["HEALTH_ADDR"] || p.HTTPGet.Port != intstr.FromInt32(int32(port)) {
			t.Errorf("%s probe %s:%s%s, want %s:%d%s", name, p.HTTPGet.Host, p.HTTPGet.Port.String(), p.HTTPGet.Path, o.cm.Data["HEALTH_ADDR"], port, want)
		}
	}
	for _, p := range c.Ports {
		if p.HostPort != 0 || spec.HostNetwork {
			t.Errorf("port %d is published on the node", p.ContainerPort)
		}
	}

	// Resources.
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if _, ok := c.Resources.Requests[r]; !ok {
			t.Errorf("no %s request", r)
		}
		if _, ok := c.Resources.Limits[r]; !ok {
			t.Errorf("no %s limit", r)
		}
	}

	// Never two agents on one node: no surge during a rollout.
	u := o.ds.Spec.UpdateStrategy
	if u.Type != appsv1.RollingUpdateDaemonSetStrategyType || u.RollingUpdate == nil ||
		u.RollingUpdate.MaxSurge == nil || u.RollingUpdate.MaxSurge.IntValue() != 0 ||
		u.RollingUpdate.MaxUnavailable == nil || u.RollingUpdate.MaxUnavailable.IntValue() < 1 {
		t.Errorf("updateStrategy %+v: want RollingUpdate with maxSurge 0 and maxUnavailable at least 1", u)
	}

	// Credentials from the Secret created outside the manifest.
	var secret bool
	for _, e := range c.EnvFrom {
		if e.SecretRef != nil && e.SecretRef.Name == "multinic-agent-db" && (e.SecretRef.Optional == nil || !*e.SecretRef.Optional) {
			secret = true
		}
	}
	if !secret {
		t.Error("the container does not take its credentials from the Secret multinic-agent-db")
	}
	data, _ := os.ReadFile(manifest)
	if !strings.Contains(string(data), "kubectl -n multinic-system create secret generic multinic-agent-db") {
		t.Error("the manifest does not say how to create the Secret")
	}
	for _, k := range []string{"DB_USER", "DB_PASSWORD"} {
		if _, ok := o.cm.Data[k]; ok {
			t.Errorf("the ConfigMap holds %s, which belongs in the Secret", k)
		}
	}

	// Not privileged; the unit's capabilities only.
	sc := c.SecurityContext
	if sc == nil || sc.Privileged == nil || *sc.Privileged || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.Capabilities == nil {
		t.Fatalf("securityContext %+v: want privileged and privilege escalation off, a read-only root", sc)
	}
	var add []string
	for _, c := range sc.Capabilities.Add {
		add = append(add, string(c))
	}
	sort.Strings(add)
	if !slices.Equal(add, []string{"CHOWN", "NET_ADMIN", "NET_RAW"}) || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" {
		t.Errorf("capabilities add %v drop %v, want the unit's CHOWN NET_ADMIN NET_RAW on top of drop ALL", add, sc.Capabilities.Drop)
	}
	if !spec.HostNetwork || spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		t.Error("want hostNetwork and no service account token")
	}
}

func envOf(c corev1.Container) map[string]string {
	out := map[string]string{}
	for _, e := range c.Env {
		out[e.Name] = e.Value
	}
	return out
}

func one[T any](t *testing.T, xs []T) T {
	t.Helper()
	if len(xs) != 1 {
		t.Fatalf("want one, found %d", len(xs))
	}
	return xs[0]
}
