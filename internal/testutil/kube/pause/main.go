// Command pause is the pod sandbox image's process for the static-pod
// tests (Kubernetes' own pause image is not reachable here): it sleeps
// until SIGTERM or SIGINT.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGTERM, syscall.SIGINT)
	<-c
}
