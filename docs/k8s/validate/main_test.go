package main

import (
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	good := "apiVersion: v1\nkind: Service\nmetadata:\n  name: x\nspec:\n  ports:\n    - port: 80\n"
	if kind, err := check([]byte(good)); err != nil || kind != "v1 Service" {
		t.Fatalf("good service: %q, %v", kind, err)
	}
	for name, doc := range map[string]string{
		"unknown field": strings.Replace(good, "ports:", "portz:", 1),
		"wrong type":    strings.Replace(good, "port: 80", "port: [80]", 1),
		"unknown kind":  strings.Replace(good, "Service", "Servise", 1),
	} {
		if _, err := check([]byte(doc)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
