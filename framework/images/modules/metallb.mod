module meshconform.io/imagekit/metallb

go 1.24.0

require go.universe.tf/metallb v0.15.2
