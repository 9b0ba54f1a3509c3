// Command helper is a process for arbor's process tests:
//
//	helper notify STATUS   send STATUS=... and READY=1 to $NOTIFY_SOCKET, then block
//	helper ignore-term     ignore SIGTERM, write a newline on fd 3, then block
package main

import (
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	switch os.Args[1] {
	case "notify":
		c, err := net.Dial("unixgram", os.Getenv("NOTIFY_SOCKET"))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Fprintf(c, "STATUS=%s\nREADY=1", os.Args[2])
		c.Close()
	case "ignore-term":
		signal.Ignore(syscall.SIGTERM)
		os.NewFile(3, "notify").Write([]byte("\n"))
	}
	for {
		time.Sleep(time.Hour)
	}
}
