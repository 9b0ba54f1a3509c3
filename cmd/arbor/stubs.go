package main

import "github.com/spf13/cobra"

func addRunCmd(root *cobra.Command, g *globalFlags)     {}
func addClientCmds(root *cobra.Command, g *globalFlags) {}
