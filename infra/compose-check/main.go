// Loads a Compose file with the Compose Specification's reference parser (compose-go), as
// `docker compose config` does but without a Docker daemon: schema validation, interpolation,
// merge keys and profiles. Prints the resolved project as JSON (services with their image,
// healthcheck and profiles) for the test suite to check; exits 1 with the parser's message when
// the file is not a valid Compose project.
//
//	compose-check [-profile NAME]... FILE
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

type profiles []string

func (p *profiles) String() string     { return strings.Join(*p, ",") }
func (p *profiles) Set(v string) error { *p = append(*p, v); return nil }

type service struct {
	Name        string   `json:"name"`
	Image       string   `json:"image,omitempty"`
	Build       bool     `json:"build"`
	Profiles    []string `json:"profiles,omitempty"`
	Healthcheck []string `json:"healthcheck,omitempty"`
	DependsOn   []string `json:"dependsOn,omitempty"`
	Environment []string `json:"environment,omitempty"`
}

type report struct {
	Name     string    `json:"name"`
	Services []service `json:"services"`
	Disabled []string  `json:"disabled"`
}

func main() {
	var active profiles
	flag.Var(&active, "profile", "a profile to enable (repeatable)")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: compose-check [-profile NAME]... FILE")
		os.Exit(2)
	}
	file, err := filepath.Abs(flag.Arg(0))
	if err != nil {
		fail(err)
	}
	opts, err := cli.NewProjectOptions([]string{file},
		cli.WithWorkingDirectory(filepath.Dir(file)),
		cli.WithOsEnv,
		cli.WithDotEnv,
		cli.WithProfiles(active),
	)
	if err != nil {
		fail(err)
	}
	project, err := opts.LoadProject(context.Background())
	if err != nil {
		fail(err)
	}
	out := report{Name: project.Name, Disabled: []string{}}
	for name := range project.DisabledServices {
		out.Disabled = append(out.Disabled, name)
	}
	sort.Strings(out.Disabled)
	for _, name := range project.ServiceNames() {
		s := project.Services[name]
		out.Services = append(out.Services, describe(s))
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		fail(err)
	}
}

func describe(s types.ServiceConfig) service {
	d := service{Name: s.Name, Image: s.Image, Build: s.Build != nil, Profiles: s.Profiles}
	if s.HealthCheck != nil && !s.HealthCheck.Disable {
		d.Healthcheck = s.HealthCheck.Test
	}
	for dep := range s.DependsOn {
		d.DependsOn = append(d.DependsOn, dep)
	}
	sort.Strings(d.DependsOn)
	for k, v := range s.Environment {
		if v != nil {
			d.Environment = append(d.Environment, k+"="+*v)
		}
	}
	sort.Strings(d.Environment)
	return d
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "compose-check: %v\n", err)
	os.Exit(1)
}
