// Command testbed-k8s runs one real Kubernetes control-plane component for the fleetplan test
// bed, chosen by its first argument: apiserver, controller-manager, scheduler or etcd. The
// components are the upstream ones (k8s.io/kubernetes and go.etcd.io/etcd), linked into one
// binary so that the test bed builds and caches a single file. `supervise PROGRAM ARGS...`
// runs another program (kwok) under the same rule as the components: every process of the
// bed exits as soon as the process that started it is gone, so a test that is killed leaves
// nothing behind.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"

	"go.etcd.io/etcd/server/v3/etcdmain"
	"k8s.io/component-base/cli"
	apiserver "k8s.io/kubernetes/cmd/kube-apiserver/app"
	controllermanager "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	scheduler "k8s.io/kubernetes/cmd/kube-scheduler/app"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: testbed-k8s apiserver|controller-manager|scheduler|etcd [flags]")
		os.Exit(2)
	}
	component, args := os.Args[1], os.Args[2:]
	exitWithParent()
	switch component {
	case "supervise":
		os.Exit(supervise(args))
	case "apiserver":
		cmd := apiserver.NewAPIServerCommand()
		cmd.SetArgs(args)
		os.Exit(cli.Run(cmd))
	case "controller-manager":
		cmd := controllermanager.NewControllerManagerCommand()
		cmd.SetArgs(args)
		os.Exit(cli.Run(cmd))
	case "scheduler":
		cmd := scheduler.NewSchedulerCommand()
		cmd.SetArgs(args)
		os.Exit(cli.Run(cmd))
	case "etcd":
		etcdmain.Main(append([]string{"etcd"}, args...))
	default:
		fmt.Fprintf(os.Stderr, "unknown component %q\n", component)
		os.Exit(2)
	}
}

// exitWithParent ends this process once its parent is gone (it is then re-parented).
func exitWithParent() {
	parent := os.Getppid()
	go func() {
		for range time.Tick(500 * time.Millisecond) {
			if os.Getppid() != parent {
				os.Exit(1)
			}
		}
	}()
}

// supervise runs a program that is killed when this process dies, and returns its exit code.
func supervise(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: testbed-k8s supervise PROGRAM [ARGS...]")
		return 2
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Run(); err != nil {
		if exit, ok := err.(*exec.ExitError); ok {
			return exit.ExitCode()
		}
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}
