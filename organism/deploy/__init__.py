"""What runs Organism elsewhere, rendered from the settings that define its organs: the Procfile, the compose
file's workers, and the Kubernetes manifests (``organism deploy``)."""
