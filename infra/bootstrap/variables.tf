variable "name" {
  description = "Prefix of resource names; the KMS alias is alias/<name>, which the other stages look up."
  type        = string
  default     = "convert-all"
}

variable "region" {
  type    = string
  default = "us-east-1"
}

variable "dr_region" {
  type    = string
  default = "us-west-2"
}

variable "dr_enabled" {
  description = "Replicate the KMS key into the DR region (set it the same in every stage)."
  type        = bool
  default     = false
}

variable "state_bucket" {
  description = "Globally unique name of the Terraform state bucket, e.g. convert-all-tfstate-<account id>."
  type        = string
}
