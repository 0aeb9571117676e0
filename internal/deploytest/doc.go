// Package deploytest checks the files that package and deploy leadsvc
// (the Dockerfile, deployments/) without a container runtime: they are
// parsed and held to what the service needs, so that `make test` catches
// a broken deployment before anyone runs it.
package deploytest
