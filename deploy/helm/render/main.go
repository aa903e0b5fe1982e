// Command render renders a Helm chart the way `helm template` does, for Rampart's own tests.
//
// Helm itself is not packaged in Debian or on npm, and the machines Rampart's tests run on reach
// only those registries, so the chart tests cannot run `helm template`. This program stands in for
// it: Go's text/template with sprig (Debian: golang-github-masterminds-sprig-dev) and the few
// functions Helm adds that the chart uses (include, tpl, required, toYaml, fromYaml, toJson,
// lookup returning nothing). Operators install the chart with real Helm; nothing here is shipped.
//
// What it reproduces: .Values (values.yaml, then each -f file, then each --set a.b=c, deep-merged
// in that order), .Release.{Name,Namespace,Service,IsInstall,IsUpgrade,Revision},
// .Chart.{Name,Version,AppVersion}, .Template.{Name,BasePath}; defines from every file of
// templates/; files whose name starts with "_" and NOTES.txt are not rendered; documents that are
// empty after rendering are dropped; each document is preceded by `# Source: <chart>/templates/x`.
// Like Helm, a missing value renders as empty, not as "<no value>".
//
// Build (GOPATH mode, no module downloads):
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o "$(mktemp -d)/render" main.go
//
// Use:
//
//	render [--name NAME] [--namespace NS] [-f values.yaml]... [--set a.b=c]... CHART_DIR
package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig"
	"sigs.k8s.io/yaml"
)

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "render:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	name, namespace := "rampart", "default"
	var valueFiles, sets listFlag
	var chartDir string
	for i := 0; i < len(args); i++ {
		a := args[i]
		next := func() (string, error) {
			if i+1 >= len(args) {
				return "", fmt.Errorf("%s needs a value", a)
			}
			i++
			return args[i], nil
		}
		var err error
		switch a {
		case "--name":
			name, err = next()
		case "--namespace", "-n":
			namespace, err = next()
		case "-f", "--values":
			var v string
			v, err = next()
			valueFiles = append(valueFiles, v)
		case "--set":
			var v string
			v, err = next()
			sets = append(sets, v)
		default:
			if strings.HasPrefix(a, "-") {
				return fmt.Errorf("unknown flag %s", a)
			}
			if chartDir != "" {
				return fmt.Errorf("one chart directory expected, got %s and %s", chartDir, a)
			}
			chartDir = a
		}
		if err != nil {
			return err
		}
	}
	if chartDir == "" {
		return errors.New("usage: render [--name NAME] [--namespace NS] [-f values.yaml]... [--set a.b=c]... CHART_DIR")
	}
	out, err := render(chartDir, name, namespace, valueFiles, sets)
	if err != nil {
		return err
	}
	_, err = os.Stdout.WriteString(out)
	return err
}

func readYAMLMap(path string) (map[string]interface{}, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m := map[string]interface{}{}
	if err := yaml.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if m == nil {
		m = map[string]interface{}{}
	}
	return m, nil
}

// merge copies src into dst; maps merge key by key, anything else replaces (as Helm's coalescing
// of user values over chart defaults). A null in src deletes the key, as in Helm.
func merge(dst, src map[string]interface{}) map[string]interface{} {
	for k, v := range src {
		if v == nil {
			delete(dst, k)
			continue
		}
		sm, sok := v.(map[string]interface{})
		dm, dok := dst[k].(map[string]interface{})
		if sok && dok {
			dst[k] = merge(dm, sm)
		} else {
			dst[k] = v
		}
	}
	return dst
}

// parseSet turns "a.b.c=v" into nested maps; v is typed as Helm's --set does for the simple cases:
// integers, true/false, null, otherwise a string. Lists ("{a,b}", "a[0]") are not supported.
func parseSet(expr string) (map[string]interface{}, error) {
	eq := strings.Index(expr, "=")
	if eq <= 0 {
		return nil, fmt.Errorf("--set %q: expected key.path=value", expr)
	}
	path, raw := expr[:eq], expr[eq+1:]
	if strings.ContainsAny(path, "[]") || strings.HasPrefix(raw, "{") {
		return nil, fmt.Errorf("--set %q: lists are not supported by this renderer; use -f", expr)
	}
	var value interface{} = raw
	switch {
	case raw == "true":
		value = true
	case raw == "false":
		value = false
	case raw == "null":
		value = nil
	default:
		if n, err := strconv.ParseInt(raw, 10, 64); err == nil {
			value = n
		}
	}
	keys := strings.Split(path, ".")
	root := map[string]interface{}{}
	cur := root
	for i, k := range keys {
		if k == "" {
			return nil, fmt.Errorf("--set %q: empty key in path", expr)
		}
		if i == len(keys)-1 {
			cur[k] = value
		} else {
			next := map[string]interface{}{}
			cur[k] = next
			cur = next
		}
	}
	return root, nil
}

func toYAML(v interface{}) string {
	b, err := yaml.Marshal(v)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(b), "\n")
}

func render(chartDir, name, namespace string, valueFiles, sets []string) (string, error) {
	chart, err := readYAMLMap(filepath.Join(chartDir, "Chart.yaml"))
	if err != nil {
		return "", err
	}
	chartName, _ := chart["name"].(string)
	if chartName == "" {
		return "", errors.New("Chart.yaml has no name")
	}
	values, err := readYAMLMap(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		return "", err
	}
	for _, f := range valueFiles {
		m, err := readYAMLMap(f)
		if err != nil {
			return "", err
		}
		values = merge(values, m)
	}
	for _, s := range sets {
		m, err := parseSet(s)
		if err != nil {
			return "", err
		}
		values = merge(values, m)
	}

	tplDir := filepath.Join(chartDir, "templates")
	entries, err := os.ReadDir(tplDir)
	if err != nil {
		return "", err
	}
	var files []string
	for _, e := range entries {
		if !e.IsDir() {
			files = append(files, e.Name())
		}
	}
	sort.Strings(files)

	root := template.New(chartName)
	funcs := sprig.TxtFuncMap()
	funcs["toYaml"] = toYAML
	funcs["fromYaml"] = func(s string) map[string]interface{} {
		m := map[string]interface{}{}
		if err := yaml.Unmarshal([]byte(s), &m); err != nil {
			m["Error"] = err.Error()
		}
		return m
	}
	funcs["required"] = func(msg string, v interface{}) (interface{}, error) {
		if v == nil {
			return nil, errors.New(msg)
		}
		if s, ok := v.(string); ok && s == "" {
			return nil, errors.New(msg)
		}
		return v, nil
	}
	// No cluster to ask: lookup finds nothing, as under `helm template`.
	funcs["lookup"] = func(string, string, string, string) map[string]interface{} {
		return map[string]interface{}{}
	}
	funcs["include"] = func(string, interface{}) (string, error) { return "", nil }
	funcs["tpl"] = func(string, interface{}) (string, error) { return "", nil }
	root.Funcs(funcs).Option("missingkey=zero")
	// include and tpl need the parsed set; bind them after creation.
	root.Funcs(template.FuncMap{
		"include": func(n string, data interface{}) (string, error) {
			var buf bytes.Buffer
			if err := root.ExecuteTemplate(&buf, n, data); err != nil {
				return "", err
			}
			return strings.ReplaceAll(buf.String(), "<no value>", ""), nil
		},
		"tpl": func(text string, data interface{}) (string, error) {
			clone, err := root.Clone()
			if err != nil {
				return "", err
			}
			t, err := clone.New("tpl").Parse(text)
			if err != nil {
				return "", err
			}
			var buf bytes.Buffer
			if err := t.Execute(&buf, data); err != nil {
				return "", err
			}
			return strings.ReplaceAll(buf.String(), "<no value>", ""), nil
		},
	})
	for _, f := range files {
		raw, err := os.ReadFile(filepath.Join(tplDir, f))
		if err != nil {
			return "", err
		}
		if _, err := root.New(chartName + "/templates/" + f).Parse(string(raw)); err != nil {
			return "", err
		}
	}

	chartObj := map[string]interface{}{
		"Name":        chartName,
		"Version":     chart["version"],
		"AppVersion":  chart["appVersion"],
		"Description": chart["description"],
	}
	release := map[string]interface{}{
		"Name":      name,
		"Namespace": namespace,
		"Service":   "Helm",
		"IsInstall": true,
		"IsUpgrade": false,
		"Revision":  1,
	}

	var out strings.Builder
	for _, f := range files {
		if strings.HasPrefix(f, "_") || f == "NOTES.txt" {
			continue
		}
		tname := chartName + "/templates/" + f
		data := map[string]interface{}{
			"Values":   values,
			"Chart":    chartObj,
			"Release":  release,
			"Template": map[string]interface{}{"Name": tname, "BasePath": chartName + "/templates"},
		}
		var buf bytes.Buffer
		if err := root.ExecuteTemplate(&buf, tname, data); err != nil {
			return "", err
		}
		text := strings.ReplaceAll(buf.String(), "<no value>", "")
		for _, doc := range splitDocs(text) {
			out.WriteString("---\n# Source: " + tname + "\n" + doc + "\n")
		}
	}
	return out.String(), nil
}

// splitDocs cuts a rendered file at `---` lines and drops documents holding only blanks and
// comments, as Helm drops empty manifests.
func splitDocs(text string) []string {
	var docs []string
	var cur []string
	flush := func() {
		doc := strings.TrimSpace(strings.Join(cur, "\n"))
		cur = nil
		for _, line := range strings.Split(doc, "\n") {
			t := strings.TrimSpace(line)
			if t != "" && !strings.HasPrefix(t, "#") {
				docs = append(docs, doc)
				return
			}
		}
	}
	for _, line := range strings.Split(text, "\n") {
		if strings.TrimRight(line, " \t") == "---" {
			flush()
			continue
		}
		cur = append(cur, line)
	}
	flush()
	return docs
}
