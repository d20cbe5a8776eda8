// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 The multinic-agent Authors

// Package daemonsetenv reads a DaemonSet of the previous multinic-agent,
// with the Secrets and ConfigMaps it refers to, as `kubectl get -o yaml`
// prints them, and resolves its container's environment the way the
// kubelet does, so that the host daemon's config.env can be written from
// it without retyping a password.
package daemonsetenv

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// object is the part of a Kubernetes object read here; a List's items are
// objects too.
type object struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name      string `yaml:"name"`
		Namespace string `yaml:"namespace"`
	} `yaml:"metadata"`
	Items      []object          `yaml:"items"`
	Data       map[string]string `yaml:"data"`
	StringData map[string]string `yaml:"stringData"`
	Spec       struct {
		Template struct {
			Spec struct {
				Containers []container `yaml:"containers"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

type container struct {
	Name    string    `yaml:"name"`
	Image   string    `yaml:"image"`
	Env     []envVar  `yaml:"env"`
	EnvFrom []envFrom `yaml:"envFrom"`
}

type keyRef struct {
	Name     string `yaml:"name"`
	Key      string `yaml:"key"`
	Optional bool   `yaml:"optional"`
}

type envVar struct {
	Name      string `yaml:"name"`
	Value     string `yaml:"value"`
	ValueFrom *struct {
		SecretKeyRef    *keyRef `yaml:"secretKeyRef"`
		ConfigMapKeyRef *keyRef `yaml:"configMapKeyRef"`
		FieldRef        *struct {
			FieldPath string `yaml:"fieldPath"`
		} `yaml:"fieldRef"`
	} `yaml:"valueFrom"`
}

type envFrom struct {
	Prefix    string  `yaml:"prefix"`
	SecretRef *keyRef `yaml:"secretRef"`
	ConfigMap *keyRef `yaml:"configMapRef"`
}

// Var is one resolved environment variable.
type Var struct {
	Name, Value string
	// Field is set instead of Value when the kubelet fills the variable in
	// from the pod (fieldRef), e.g. spec.nodeName.
	Field string
	// From says where the value came from, for the comments of the output.
	From string
}

// Env is a container's resolved environment.
type Env struct {
	Namespace, DaemonSet, Container string
	Vars                            []Var
}

// Read decodes every object of r (documents, or kubectl's List) and
// resolves the environment of the DaemonSet called daemonSet (any, when
// only one is there) and its container called containerName (any, when it
// has only one, else the one named multinic-agent).
func Read(r io.Reader, daemonSet, containerName string) (Env, error) {
	objs, err := decode(r)
	if err != nil {
		return Env{}, err
	}
	var sets []object
	for _, o := range objs {
		if o.Kind == "DaemonSet" && (daemonSet == "" || o.Metadata.Name == daemonSet) {
			sets = append(sets, o)
		}
	}
	switch {
	case len(sets) == 0 && daemonSet != "":
		return Env{}, fmt.Errorf("no DaemonSet %q in the input", daemonSet)
	case len(sets) == 0:
		return Env{}, errors.New("no DaemonSet in the input: pipe `kubectl get daemonset,secret,configmap -n NAMESPACE -o yaml` into it")
	case len(sets) > 1:
		return Env{}, fmt.Errorf("several DaemonSets in the input (%s): choose one with --daemonset", names(sets))
	}
	ds := sets[0]
	c, err := pick(ds, containerName)
	if err != nil {
		return Env{}, err
	}
	env := Env{Namespace: ds.Metadata.Namespace, DaemonSet: ds.Metadata.Name, Container: c.Name}
	find := func(kind string, ref *keyRef) (map[string]string, error) {
		for _, o := range objs {
			if o.Kind == kind && o.Metadata.Name == ref.Name && (o.Metadata.Namespace == "" || env.Namespace == "" || o.Metadata.Namespace == env.Namespace) {
				return values(o)
			}
		}
		if ref.Optional {
			return nil, nil
		}
		return nil, fmt.Errorf("the container refers to %s %q, which is not in the input: add it (kubectl get %s -n %s %s -o yaml)", kind, ref.Name, strings.ToLower(kind), orDefault(env.Namespace), ref.Name)
	}
	vars := map[string]Var{}
	var order []string
	set := func(v Var) {
		if _, ok := vars[v.Name]; !ok {
			order = append(order, v.Name)
		}
		vars[v.Name] = v
	}
	// The kubelet applies envFrom first; env entries win over them.
	for _, ef := range c.EnvFrom {
		kind, ref := "Secret", ef.SecretRef
		if ref == nil {
			kind, ref = "ConfigMap", ef.ConfigMap
		}
		if ref == nil {
			continue
		}
		data, err := find(kind, ref)
		if err != nil {
			return Env{}, err
		}
		keys := make([]string, 0, len(data))
		for k := range data {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			set(Var{Name: ef.Prefix + k, Value: data[k], From: kind + " " + ref.Name})
		}
	}
	for _, e := range c.Env {
		v := Var{Name: e.Name, Value: e.Value, From: "the DaemonSet"}
		if vf := e.ValueFrom; vf != nil {
			kind, ref := "Secret", vf.SecretKeyRef
			if ref == nil {
				kind, ref = "ConfigMap", vf.ConfigMapKeyRef
			}
			switch {
			case ref != nil:
				data, err := find(kind, ref)
				if err != nil {
					return Env{}, fmt.Errorf("%s: %w", e.Name, err)
				}
				val, ok := data[ref.Key]
				if !ok && !ref.Optional {
					return Env{}, fmt.Errorf("%s: %s %q has no key %q", e.Name, kind, ref.Name, ref.Key)
				}
				if !ok {
					continue
				}
				v.Value, v.From = val, fmt.Sprintf("%s %s, key %s", kind, ref.Name, ref.Key)
			case vf.FieldRef != nil:
				v.Value, v.Field, v.From = "", vf.FieldRef.FieldPath, "the pod's "+vf.FieldRef.FieldPath
			}
		}
		set(v)
	}
	for _, name := range order {
		env.Vars = append(env.Vars, vars[name])
	}
	return env, nil
}

func decode(r io.Reader) ([]object, error) {
	dec := yaml.NewDecoder(r)
	var out []object
	for n := 1; ; n++ {
		var o object
		err := dec.Decode(&o)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("document %d of the input is not Kubernetes YAML: %w", n, err)
		}
		if o.Kind == "List" || strings.HasSuffix(o.Kind, "List") {
			out = append(out, o.Items...)
			continue
		}
		out = append(out, o)
	}
}

func values(o object) (map[string]string, error) {
	m := map[string]string{}
	for k, v := range o.Data {
		if o.Kind == "Secret" {
			b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(v))
			if err != nil {
				return nil, fmt.Errorf("key %q of Secret %q is not base64: %w", k, o.Metadata.Name, err)
			}
			v = string(b)
		}
		m[k] = v
	}
	for k, v := range o.StringData {
		m[k] = v
	}
	return m, nil
}

func pick(ds object, name string) (container, error) {
	cs := ds.Spec.Template.Spec.Containers
	var found []container
	for _, c := range cs {
		if name == "" && len(cs) > 1 && c.Name != "multinic-agent" {
			continue
		}
		if name == "" || c.Name == name {
			found = append(found, c)
		}
	}
	if len(found) == 1 {
		return found[0], nil
	}
	var all []string
	for _, c := range cs {
		all = append(all, c.Name)
	}
	if name != "" {
		return container{}, fmt.Errorf("DaemonSet %s has no container %q (it has %s)", ds.Metadata.Name, name, strings.Join(all, ", "))
	}
	return container{}, fmt.Errorf("DaemonSet %s has containers %s: choose one with --container", ds.Metadata.Name, strings.Join(all, ", "))
}

func names(objs []object) string {
	var b bytes.Buffer
	for k, o := range objs {
		if k > 0 {
			b.WriteString(", ")
		}
		b.WriteString(orDefault(o.Metadata.Namespace) + "/" + o.Metadata.Name)
	}
	return b.String()
}

func orDefault(ns string) string {
	if ns == "" {
		return "default"
	}
	return ns
}
