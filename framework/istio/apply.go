package istio

import "github.com/meshconform/meshconform/framework/kube"

// fieldManager owns the fields meshconform applies.
const fieldManager = kube.FieldManager
