// Command validate checks Kubernetes manifests offline: every document of
// every file given must decode strictly (no unknown field, no wrong type)
// into the Go API type of its kind from k8s.io/api. It is not a schema
// validator (it does not know which fields are required) and it applies
// nothing to a cluster.
//
//	cd docs/k8s/validate && go run . ../hotdeploy-example.yaml
//
// A module of its own, so that the workshop's module does not depend on
// k8s.io/api.
package main

import (
	"bytes"
	"fmt"
	"os"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: validate FILE.yaml...")
		os.Exit(2)
	}
	bad := 0
	for _, path := range os.Args[1:] {
		b, err := os.ReadFile(path)
		if err != nil {
			fmt.Fprintf(os.Stderr, "validate: %v\n", err)
			os.Exit(1)
		}
		for i, doc := range bytes.Split(b, []byte("\n---\n")) {
			kind, err := check(doc)
			if err != nil {
				fmt.Printf("%s: document %d: %v\n", path, i+1, err)
				bad++
				continue
			}
			fmt.Printf("%s: document %d: %s: ok\n", path, i+1, kind)
		}
	}
	if bad > 0 {
		os.Exit(1)
	}
}

func check(doc []byte) (string, error) {
	var meta struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := yaml.Unmarshal(doc, &meta); err != nil {
		return "", err
	}
	var obj any
	switch meta.APIVersion + " " + meta.Kind {
	case "apps/v1 Deployment":
		obj = &appsv1.Deployment{}
	case "v1 Service":
		obj = &corev1.Service{}
	default:
		return "", fmt.Errorf("kind %q %q: not known to this checker", meta.APIVersion, meta.Kind)
	}
	if err := yaml.UnmarshalStrict(doc, obj); err != nil {
		return "", fmt.Errorf("%s %s: %w", meta.APIVersion, meta.Kind, err)
	}
	return meta.APIVersion + " " + meta.Kind, nil
}
