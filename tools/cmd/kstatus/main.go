// Command kstatus computes the kstatus status of one Kubernetes object
// (sigs.k8s.io/cli-utils/pkg/kstatus/status) and prints it as JSON:
//
//	{"status":"Current","message":"..."}
//
// Input is JSON or YAML, from the file named by the only argument, or stdin
// when there is no argument or it is "-". Exit code: 0 when a status was
// computed (whatever it is), 1 on unreadable/invalid input, 2 on bad usage.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/yaml"
)

type result struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

func main() {
	var (
		data []byte
		err  error
	)
	switch {
	case len(os.Args) > 2:
		fmt.Fprintln(os.Stderr, "usage: kstatus [FILE|-]   (JSON or YAML object; stdin by default)")
		os.Exit(2)
	case len(os.Args) == 2 && (os.Args[1] == "-h" || os.Args[1] == "--help"):
		fmt.Println("usage: kstatus [FILE|-]   (JSON or YAML object; stdin by default)")
		return
	case len(os.Args) == 2 && os.Args[1] != "-":
		data, err = os.ReadFile(os.Args[1])
	default:
		data, err = io.ReadAll(os.Stdin)
	}
	if err != nil {
		fail("read input: %v", err)
	}

	// sigs.k8s.io/yaml accepts JSON too (JSON is YAML).
	jsonData, err := yaml.YAMLToJSON(data)
	if err != nil {
		fail("parse input: %v", err)
	}
	// utiljson keeps integers as int64, which kstatus' accessors require.
	obj := map[string]interface{}{}
	if err := utiljson.Unmarshal(jsonData, &obj); err != nil || len(obj) == 0 {
		fail("input is not a single Kubernetes object (%v)", err)
	}
	res, err := status.Compute(&unstructured.Unstructured{Object: obj})
	if err != nil {
		fail("compute status: %v", err)
	}
	out, _ := json.Marshal(result{Status: res.Status.String(), Message: res.Message})
	fmt.Println(string(out))
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "kstatus: "+format+"\n", args...)
	os.Exit(1)
}
