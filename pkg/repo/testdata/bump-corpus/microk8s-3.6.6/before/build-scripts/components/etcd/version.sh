#!/bin/bash

echo "v3.6.4"
