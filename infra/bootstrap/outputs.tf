output "state_bucket" {
  value = aws_s3_bucket.state.id
}

output "kms_key_arn" {
  value = aws_kms_key.main.arn
}

output "backend_hcl" {
  description = "Contents for infra/backend.hcl (the key is set by each stage)."
  value       = <<-EOT
    bucket       = "${aws_s3_bucket.state.id}"
    region       = "${var.region}"
    encrypt      = true
    kms_key_id   = "${aws_kms_key.main.arn}"
    use_lockfile = true
  EOT
}
