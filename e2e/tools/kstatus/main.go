// kstatus prints what sigs.k8s.io/cli-utils/pkg/kstatus/status (the library Flux, kpt and
// cli-utils use) computes for Kubernetes objects read as JSON on stdin: one object or a List.
// Output, one line per object: <kind>/<namespace>/<name> <status> <message>
package main

import (
	"fmt"
	"io"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

func main() {
	data, err := io.ReadAll(os.Stdin)
	if err != nil {
		fail("reading stdin: %v", err)
	}
	var obj unstructured.Unstructured
	// apimachinery's json keeps integers as int64, as unstructured accessors expect.
	if err := json.Unmarshal(data, &obj.Object); err != nil {
		fail("stdin is not a JSON object: %v", err)
	}
	items := []unstructured.Unstructured{obj}
	if obj.IsList() {
		list, err := obj.ToList()
		if err != nil {
			fail("reading list: %v", err)
		}
		items = list.Items
	}
	for i := range items {
		u := &items[i]
		res, err := status.Compute(u)
		if err != nil {
			fail("%s/%s: %v", u.GetKind(), u.GetName(), err)
		}
		fmt.Printf("%s/%s/%s %s %s\n", u.GetKind(), u.GetNamespace(), u.GetName(), res.Status, res.Message)
	}
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "kstatus: "+format+"\n", args...)
	os.Exit(1)
}
