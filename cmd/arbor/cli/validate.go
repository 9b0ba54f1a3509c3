package cli

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/arborgo/arbor/cmd/arbor/internal/treefile"
)

// validateReport is validate's --format json output.
type validateReport struct {
	File        string          `json:"file"`
	Valid       bool            `json:"valid"`
	Errors      treefile.Errors `json:"errors"`
	Warnings    treefile.Errors `json:"warnings"`
	Processes   int             `json:"processes,omitempty"`
	Supervisors int             `json:"supervisors,omitempty"`
}

func newValidateCmd(o *options) *cobra.Command {
	var config, format string
	cmd := &cobra.Command{
		Use:   "validate -c tree.yaml",
		Short: "Check a tree file without running it (exit 0 valid, 2 invalid)",
		Long: `Validate parses and checks a tree file and prints every problem with its
file:line:column and the lines around it. It exits 0 if the file is valid and 2
if it is not; --format json prints a report for CI.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "text" && format != "json" {
				return &exitError{code: exitInvalid, err: fmt.Errorf("--format %q: want text or json", format)}
			}
			f, err := treefile.ReadFile(config)
			rep := validateReport{File: config, Valid: err == nil, Errors: treefile.Errors{}, Warnings: treefile.Errors{}}
			if err != nil && !errors.As(err, &rep.Errors) {
				rep.Errors = treefile.Errors{{File: config, Message: err.Error()}}
			}
			if f != nil {
				rep.Warnings = append(rep.Warnings, f.Warnings...)
				if f.Cluster != nil && o.connect == nil {
					rep.Warnings = append(rep.Warnings, errNoEngine(f))
				}
				treefile.Walk(f.Root, func(n treefile.Node) {
					if _, ok := n.(*treefile.Supervisor); ok {
						rep.Supervisors++
					} else {
						rep.Processes++
					}
				})
			}
			out := cmd.OutOrStdout()
			if format == "json" {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(rep); err != nil {
					return err
				}
			} else {
				if len(rep.Warnings) > 0 {
					fmt.Fprintln(cmd.ErrOrStderr(), "warning: "+rep.Warnings.Error())
				}
				if rep.Valid {
					fmt.Fprintf(out, "%s: valid (%d supervisors, %d processes)\n", config, rep.Supervisors, rep.Processes)
				} else {
					fmt.Fprintln(cmd.ErrOrStderr(), rep.Errors.Error())
				}
			}
			if !rep.Valid {
				return &exitError{code: exitInvalid}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&config, "config", "c", "tree.yaml", "the tree file")
	cmd.Flags().StringVar(&format, "format", "text", "text or json")
	return cmd
}
