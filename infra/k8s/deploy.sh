#!/usr/bin/env bash
# The one way the production overlay reaches a cluster: the first deploy by hand, every CI deploy
# (.github/workflows/deploy.yml), a rollout and a rollback to an older build all run this script, so every
# object is always applied server-side by ONE field manager (`ocr-deploy`) and a later apply never
# conflicts with an earlier one over the image field. Never apply the overlay by other means.
#
#   infra/k8s/deploy.sh IMAGE           # e.g. registry.digitalocean.com/ops-control-room/ocr@sha256:…
#   infra/k8s/deploy.sh --plan IMAGE    # print the commands and write the manifests, touch no cluster
#
# Steps: render the overlay with IMAGE pinned → apply the namespace-level objects, the new config map and
# a fresh migration Job (the old Job is deleted: a Job's pod template is immutable) → wait for the Job →
# apply the Deployments → wait for their rollouts → if a rollout fails, re-apply the Deployments with the
# images that ran before (same manager, so the next deploy does not conflict) and fail.
# Environment: OVERLAY (infra/k8s/overlays/doks-production), NAMESPACE (ocr), OUT (a temporary directory).
set -euo pipefail

plan=false
if [ "${1:-}" = "--plan" ]; then
  plan=true
  shift
fi
image="${1:?usage: infra/k8s/deploy.sh [--plan] IMAGE}"
overlay="${OVERLAY:-infra/k8s/overlays/doks-production}"
namespace="${NAMESPACE:-ocr}"
out="${OUT:-$(mktemp -d)}"
manager=ocr-deploy
deployments="ocr-api ocr-sweeper ocr-worker"

# Run a kubectl command, or only print it in plan mode.
k() {
  if $plan; then
    echo "kubectl $*"
  else
    kubectl "$@"
  fi
}

mkdir -p "$out"
# The overlay's image is `…/ocr:unpinned`; every occurrence becomes IMAGE. Anything left unpinned or a
# REPLACE_WITH placeholder (the load balancer's certificate name) stops the deploy before it starts.
kubectl kustomize "$overlay" | sed -E "s#^( *image: )[^ ]*/ocr:unpinned\$#\\1${image}#" > "$out/rendered.yaml"
if grep -n -e ':unpinned' -e 'REPLACE_WITH' "$out/rendered.yaml"; then
  echo "deploy: placeholders left in $overlay (see docs/deployment.md); refusing to deploy" >&2
  exit 1
fi
grep -q "image: ${image}\$" "$out/rendered.yaml" || { echo "deploy: no image was pinned to $image" >&2; exit 1; }

# Split the stream: Deployments roll only after the migration Job has completed.
awk -v rest="$out/migrate.yaml" -v deploys="$out/deployments.yaml" '
  function flush() { if (doc != "") { print "---\n" doc > (isDeploy ? deploys : rest) }; doc = ""; isDeploy = 0 }
  /^---$/ { flush(); next }
  /^kind: Deployment$/ { isDeploy = 1 }
  { doc = doc $0 "\n" }
  END { flush() }
' "$out/rendered.yaml"

apply() { k apply --server-side --field-manager="$manager" -f "$1"; }

# What runs now, to roll back to (nothing on a first deploy).
: > "$out/previous-images.txt"
if ! $plan; then
  for d in $deployments; do
    current=$(kubectl -n "$namespace" get "deployment/$d" -o 'jsonpath={.spec.template.spec.containers[0].image}' 2>/dev/null || true)
    [ -n "$current" ] && echo "$d $current" >> "$out/previous-images.txt"
  done
fi
cat "$out/previous-images.txt"

k -n "$namespace" delete job ocr-migrate --ignore-not-found --wait=true
apply "$out/migrate.yaml"
if ! k -n "$namespace" wait --for=condition=complete job/ocr-migrate --timeout=10m; then
  k -n "$namespace" logs job/ocr-migrate --tail=200 || true
  echo "deploy: the migration did not complete; nothing was rolled" >&2
  exit 1
fi
k -n "$namespace" logs job/ocr-migrate --tail=50

apply "$out/deployments.yaml"
failed=false
for d in $deployments; do
  k -n "$namespace" rollout status "deployment/$d" --timeout=10m || failed=true
done
$failed || exit 0

echo "deploy: a rollout failed; re-applying the previous images" >&2
# All three Deployments run one image; the API's is the one to go back to.
previous=$(awk '$1 == "ocr-api" { print $2 }' "$out/previous-images.txt")
if [ -n "$previous" ]; then
  sed "s#^\( *image: \)${image}\$#\1${previous}#" "$out/deployments.yaml" > "$out/rollback.yaml"
  apply "$out/rollback.yaml"
  for d in $deployments; do k -n "$namespace" rollout status "deployment/$d" --timeout=10m || true; done
fi
exit 1
